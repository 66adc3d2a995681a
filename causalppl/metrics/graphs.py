"""Structural Hamming distance between DAGs and between their equivalence classes.

Convention (one for the whole library): the distance counts the unordered node pairs whose
edge differs. A missing edge, an extra edge and a **reversed edge each count 1**; between
CPDAGs, an undirected edge against a directed one also counts 1.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import CausalError
from .equivalence import PDAG, as_pdag, cpdag

__all__ = ["shd", "shd_cpdag"]


def shd(graph_true, graph_hat, *, nodes: Iterable[str] | None = None) -> int:
    """Structural Hamming distance; a reversed edge counts 1.

    Args:
        graph_true, graph_hat: each a :class:`~causalppl.CausalGraph`, a parents dict
            ``{node: [parents]}``, a :class:`~causalppl.metrics.PDAG`, or a square 0/1
            adjacency matrix (``A[i, j] = 1`` for ``i -> j``). Both must have the same nodes.
        nodes: names of the rows of adjacency matrices (default ``"x0", "x1", ...``).

    Example:
        >>> shd({"a": [], "b": ["a"], "c": []}, {"a": ["b"], "b": [], "c": ["a"]})
        2
        >>> shd([[0, 1], [0, 0]], [[0, 0], [0, 0]])
        1
    """
    names = list(nodes) if nodes is not None else None
    a = as_pdag(graph_true, "graph_true", names)
    b = as_pdag(graph_hat, "graph_hat", names)
    _same_nodes(a, b)
    ordered = list(a.nodes)
    return sum(a.status(u, v) != b.status(u, v) for i, u in enumerate(ordered) for v in ordered[i + 1 :])


def shd_cpdag(graph_true, graph_hat, *, nodes: Iterable[str] | None = None) -> int:
    """SHD between the CPDAGs of two DAGs: 0 iff they are Markov equivalent.

    Example:
        >>> shd_cpdag({"a": [], "b": ["a"]}, {"a": ["b"], "b": []})
        0
        >>> shd_cpdag({"a": [], "b": [], "c": ["a", "b"]}, {"a": [], "b": ["a"], "c": ["b"]})
        3
    """
    names = list(nodes) if nodes is not None else None
    return shd(cpdag(as_pdag(graph_true, "graph_true", names)), cpdag(as_pdag(graph_hat, "graph_hat", names)))


def _same_nodes(a: PDAG, b: PDAG) -> None:
    if set(a.nodes) != set(b.nodes):
        only_a = sorted(set(a.nodes) - set(b.nodes))
        only_b = sorted(set(b.nodes) - set(a.nodes))
        raise CausalError(
            f"graph_true and graph_hat have different nodes: only in graph_true {only_a}, only in graph_hat {only_b}"
        )
