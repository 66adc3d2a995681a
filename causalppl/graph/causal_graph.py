"""The causal DAG as plain data: nodes, edges, parents; rendered to DOT last."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .. import checks
from ..errors import CausalError, CyclicGraphError

__all__ = ["CausalGraph"]


class CausalGraph:
    """A directed acyclic graph over named sites.

    Nodes are kept in a topological order (ties broken by the order they were given), so
    ``g.nodes`` is always a valid evaluation order for ancestral sampling.

    Args:
        parents: mapping ``node -> list of parents``. Every parent must itself be a key.
        intervened: nodes under a hard intervention (drawn as boxes; they have no parents).
        exogenous: nodes that are exogenous noise (drawn dashed). Only twin networks and
            graphs built with ``include_noise=True`` carry these.

    Example:
        >>> g = CausalGraph({"x": [], "h": ["x"], "y": ["x", "h"]})
        >>> g.nodes
        ['x', 'h', 'y']
        >>> g.edges
        [('x', 'h'), ('x', 'y'), ('h', 'y')]
        >>> g.parents("y")
        ['x', 'h']
        >>> g.mutilate(["h"]).parents("h")
        []
    """

    def __init__(
        self,
        parents: Mapping[str, Sequence[str]],
        *,
        intervened: Iterable[str] = (),
        exogenous: Iterable[str] = (),
    ):
        if isinstance(parents, CausalGraph):
            parents = parents.parents_dict()
        spec = _parents_spec(parents)
        self._parents = spec
        self._nodes = _toposort(spec)
        self.intervened = frozenset(checks.names(intervened, "intervened"))
        self.exogenous = frozenset(checks.names(exogenous, "exogenous"))
        unknown = (self.intervened | self.exogenous) - set(spec)
        if unknown:
            raise CausalError(f"nodes {sorted(unknown)} are marked but not in the graph")

    # -- reading ---------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """Nodes in topological order."""
        return list(self._nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """``(parent, child)`` pairs, children in topological order."""
        return [(p, c) for c in self._nodes for p in self._parents[c]]

    def parents(self, node: str) -> list[str]:
        """The parents of ``node``: for a traced program in sampling order, for a spec as given."""
        return list(self._parents[self._check(node)])

    def children(self, node: str) -> list[str]:
        """The children of ``node`` in topological order."""
        self._check(node)
        return [c for c in self._nodes if node in self._parents[c]]

    def ancestors(self, node: str) -> set[str]:
        """All strict ancestors of ``node``."""
        seen: set[str] = set()
        stack = list(self._parents[self._check(node)])
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(self._parents[p])
        return seen

    def descendants(self, node: str) -> set[str]:
        """All strict descendants of ``node``."""
        self._check(node)
        out: set[str] = set()
        for c in self._nodes:
            if any(p == node or p in out for p in self._parents[c]):
                out.add(c)
        return out

    def levels(self) -> list[list[str]]:
        """Nodes grouped by depth (roots first): each level depends only on earlier ones."""
        depth: dict[str, int] = {}
        for n in self._nodes:
            depth[n] = 1 + max((depth[p] for p in self._parents[n]), default=-1)
        out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n in self._nodes:
            out[depth[n]].append(n)
        return out

    def parents_dict(self) -> dict[str, list[str]]:
        """The graph as a ``node -> parents`` dict in topological order."""
        return {n: list(self._parents[n]) for n in self._nodes}

    def adjacency(self) -> np.ndarray:
        """Adjacency matrix ``A[i, j] = 1`` iff ``nodes[i] -> nodes[j]``."""
        index = {n: i for i, n in enumerate(self._nodes)}
        a = np.zeros((len(self._nodes),) * 2, dtype=np.int64)
        for p, c in self.edges:
            a[index[p], index[c]] = 1
        return a

    @classmethod
    def from_adjacency(cls, adjacency, nodes: Sequence[str] | None = None) -> CausalGraph:
        """Build a graph from a square 0/1 matrix with ``A[i, j] = 1`` for ``i -> j``.

        Raises:
            CausalError: the matrix holds NaN or entries other than 0 and 1, ``nodes`` are
                not distinct strings, or the graph has a cycle (a self-loop included).

        Example:
            >>> CausalGraph.from_adjacency([[0, 1], [0, 0]], ["a", "b"]).edges
            [('a', 'b')]
        """
        a = checks.adjacency(adjacency, "adjacency")
        nodes = checks.names(nodes, "nodes") if nodes is not None else [f"x{i}" for i in range(a.shape[0])]
        if len(nodes) != a.shape[0]:
            raise CausalError(f"{len(nodes)} names for a {a.shape[0]}-node adjacency matrix")
        return cls({c: [nodes[i] for i in range(len(nodes)) if a[i, j]] for j, c in enumerate(nodes)})

    # -- transforming ------------------------------------------------------------------------
    def mutilate(self, targets: Iterable[str]) -> CausalGraph:
        """The graph after a hard intervention on ``targets``: no edges into them."""
        targets = {self._check(t) for t in targets}
        spec = {n: ([] if n in targets else pa) for n, pa in self._parents.items()}
        return CausalGraph(spec, intervened=self.intervened | targets, exogenous=self.exogenous)

    def twin_network(self, actions: Iterable[str] = ()) -> CausalGraph:
        """The twin network of a counterfactual query (Balke & Pearl 1994).

        Each endogenous node ``v`` appears twice, as ``v`` (factual world) and ``v*``
        (counterfactual world), and both copies share one exogenous noise node ``U_v``.
        Intervened nodes lose their parents in the counterfactual copy only.

        Example:
            >>> g = CausalGraph({"x": [], "y": ["x"]}).twin_network(["x"])
            >>> sorted(g.parents("y*"))
            ['U_y', 'x*']
            >>> g.parents("x*")
            []
        """
        actions = {self._check(a) for a in actions}
        spec: dict[str, list[str]] = {}
        endo = [n for n in self._nodes if n not in self.exogenous]
        for n in endo:
            spec[f"U_{n}"] = []
        for n in endo:
            spec[n] = list(self._parents[n]) + [f"U_{n}"]
        for n in endo:
            spec[f"{n}*"] = (
                [] if n in actions else [p if p in self.exogenous else f"{p}*" for p in self._parents[n]] + [f"U_{n}"]
            )
        return CausalGraph(
            spec,
            intervened={f"{a}*" for a in actions},
            exogenous={f"U_{n}" for n in endo} | (self.exogenous & set(spec)),
        )

    # -- rendering ---------------------------------------------------------------------------
    def to_dot(self, name: str = "G") -> str:
        """DOT source of the graph (no graphviz binary needed)."""
        from .render import graph_to_dot

        return graph_to_dot(self, name)

    def render(self, filename: str = "graph", format: str = "svg", **kwargs) -> str:
        """Write the graph with graphviz's ``dot``; returns the path of the written file."""
        from .render import render

        return render(self, filename, format=format, **kwargs)

    def _repr_mimebundle_(self, include=None, exclude=None):  # notebooks draw the graph
        from .render import mimebundle

        return mimebundle(self)

    # -- dunder ------------------------------------------------------------------------------
    def _check(self, node: str) -> str:
        if node not in self._parents:
            raise CausalError(f"{node!r} is not a node of the graph; nodes: {self._nodes}")
        return node

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self):
        return iter(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalGraph):
            return NotImplemented
        return set(self.nodes) == set(other.nodes) and set(self.edges) == set(other.edges)

    def __hash__(self) -> int:
        return hash((frozenset(self._nodes), frozenset(self.edges)))

    def __repr__(self) -> str:
        body = ", ".join(f"{n!r}: {self._parents[n]}" for n in self._nodes)
        return f"CausalGraph({{{body}}})"


def _parents_spec(parents) -> dict[str, list[str]]:
    """``{node: [parents]}`` checked: string nodes, each parent list a sequence of distinct nodes."""
    if not isinstance(parents, Mapping):
        raise CausalError(f"parents must be a mapping node -> list of parents, got {type(parents).__name__}")
    spec: dict[str, list[str]] = {}
    for node, pa in parents.items():
        if not isinstance(node, str):
            raise CausalError(f"node names must be strings, got {node!r}")
        if isinstance(pa, (str, bytes, Mapping, set, frozenset)) or not isinstance(pa, Iterable):
            raise CausalError(f"parents of {node!r} must be a list of node names, got {type(pa).__name__}: {pa!r}")
        pa = list(pa)
        for p in pa:
            if not isinstance(p, str):
                raise CausalError(f"parents of {node!r} must be node names (strings), got {p!r}")
            if p not in parents:
                raise CausalError(f"parent {p!r} of node {node!r} is not a node of the graph")
            if p == node:
                raise CyclicGraphError(f"node {node!r} is its own parent")
        if len(set(pa)) != len(pa):
            raise CausalError(f"parents of {node!r} list a node twice: {pa}")
        spec[node] = pa
    return spec


def _toposort(spec: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm, stable in the given order; raises on a cycle naming its nodes."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(spec)
    while remaining:
        ready = [n for n in remaining if all(p in placed for p in spec[n])]
        if not ready:
            raise CyclicGraphError(f"the graph has a directed cycle through {_find_cycle(spec, remaining)}")
        for n in ready:
            placed.add(n)
            order.append(n)
        remaining = [n for n in remaining if n not in placed]
    return order


def _find_cycle(spec: Mapping[str, Sequence[str]], nodes: Sequence[str]) -> str:
    """One cycle among ``nodes`` written as ``a -> b -> a``, for the error message."""
    node, path = nodes[0], []
    while node not in path:
        path.append(node)
        node = next(p for p in spec[node] if p in nodes)
    cycle = path[path.index(node) :] + [node]
    return " -> ".join(reversed(cycle))
