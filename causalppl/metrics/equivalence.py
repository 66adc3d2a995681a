"""Markov equivalence: partially directed graphs, CPDAGs, and the members of a class.

Two DAGs are Markov equivalent iff they share skeleton and v-structures (Verma & Pearl
1990). The class is drawn as its CPDAG: v-structures oriented, then Meek's rules R1-R3
applied until nothing changes (Meek 1995 shows R1-R3 are complete when no background
knowledge is given); every other edge stays undirected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .. import checks
from ..errors import CausalError, CyclicGraphError
from ..graph import CausalGraph

__all__ = ["PDAG", "as_pdag", "cpdag", "markov_equivalence_class", "v_structures"]

_MAX_UNDIRECTED = 20  # 2**20 orientations is the most a brute-force enumeration may face


@dataclass(frozen=True)
class PDAG:
    """A partially directed graph: ``directed`` ``(a, b)`` pairs and ``undirected`` pairs.

    Example:
        >>> g = cpdag(CausalGraph({"a": [], "b": ["a"], "c": ["b"]}))
        >>> g.status("a", "b"), g.status("c", "b"), g.status("a", "c")
        ('--', '--', '')
    """

    nodes: tuple[str, ...]
    directed: frozenset[tuple[str, str]]
    undirected: frozenset[frozenset[str]]

    def __post_init__(self):
        known = set(checks.names(self.nodes, "PDAG nodes"))
        for edge in sorted(self.directed, key=repr):
            if not (isinstance(edge, tuple) and len(edge) == 2 and edge[0] in known and edge[1] in known):
                raise CausalError(f"PDAG directed edge {edge!r} must be a pair of nodes of {list(self.nodes)}")
            p, c = edge
            if p == c:
                raise CausalError(f"PDAG has a self-loop at {p!r}")
            if (c, p) in self.directed or frozenset((p, c)) in self.undirected:
                raise CausalError(f"PDAG joins {p!r} and {c!r} by more than one edge")
        for pair in sorted(self.undirected, key=repr):
            if not (isinstance(pair, frozenset) and len(pair) == 2 and pair <= known):
                raise CausalError(f"PDAG undirected edge {pair!r} must be a frozenset of two nodes")
        _directed_acyclic(self.nodes, self.directed, "PDAG")

    def status(self, a: str, b: str) -> str:
        """``"->"`` (a to b), ``"<-"``, ``"--"`` (undirected) or ``""`` (not adjacent)."""
        if (a, b) in self.directed:
            return "->"
        if (b, a) in self.directed:
            return "<-"
        return "--" if frozenset((a, b)) in self.undirected else ""

    def adjacent(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are joined by an edge of any kind."""
        return self.status(a, b) != ""

    def adjacency(self) -> np.ndarray:
        """``A[i, j] = 1`` for ``i -> j``; an undirected edge sets ``A[i, j]`` and ``A[j, i]``."""
        index = {n: i for i, n in enumerate(self.nodes)}
        a = np.zeros((len(self.nodes),) * 2, dtype=np.int64)
        for p, c in self.directed:
            a[index[p], index[c]] = 1
        for pair in self.undirected:
            p, c = sorted(pair)
            a[index[p], index[c]] = a[index[c], index[p]] = 1
        return a

    def __repr__(self) -> str:
        d = ", ".join(f"{p}->{c}" for p, c in sorted(self.directed))
        u = ", ".join("--".join(sorted(e)) for e in sorted(sorted(e) for e in self.undirected))
        return f"PDAG(nodes={list(self.nodes)}, directed=[{d}], undirected=[{u}])"


def as_pdag(graph, name: str = "graph", nodes: Iterable[str] | None = None) -> PDAG:
    """Read a :class:`CausalGraph`, :class:`PDAG`, parents dict or adjacency matrix.

    An adjacency matrix has ``A[i, j] = 1`` for ``i -> j`` (both entries set: undirected);
    its nodes are named by ``nodes`` or else ``"x0", "x1", ...``.

    Raises:
        CausalError: (naming ``name``) a matrix with NaN, entries other than 0 and 1, a
            self-loop or a directed cycle; node names that are not distinct strings; a
            malformed parents dict.

    Example:
        >>> as_pdag([[0, 1], [1, 0]], nodes=["a", "b"])
        PDAG(nodes=['a', 'b'], directed=[], undirected=[a--b])
        >>> as_pdag([[0, 1], [0, 0]], "graph_hat", nodes=["a", "a"])
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: nodes names 'a' more than once; names must be distinct
    """
    if isinstance(graph, PDAG):
        return graph
    if isinstance(graph, Mapping) and not isinstance(graph, CausalGraph):
        try:
            graph = CausalGraph(graph)
        except CausalError as exc:
            raise type(exc)(f"{name}: {exc}") from exc
    if isinstance(graph, CausalGraph):
        return PDAG(tuple(graph.nodes), frozenset(graph.edges), frozenset())
    if isinstance(graph, torch.Tensor):
        graph = graph.detach().cpu().numpy()
    try:
        np.asarray(graph, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CausalError(
            f"{name} must be a CausalGraph, PDAG, parents dict or adjacency matrix, got {type(graph).__name__}"
        ) from exc
    a = checks.adjacency(graph, name)
    names = checks.names(nodes, "nodes") if nodes is not None else [f"x{i}" for i in range(a.shape[0])]
    if len(names) != a.shape[0]:
        raise CausalError(f"{name}: {len(names)} node names for a {a.shape[0]}-node adjacency")
    loops = np.flatnonzero(np.diag(a))
    if loops.size:
        raise CausalError(f"{name} adjacency has a self-loop at {names[int(loops[0])]!r}")
    directed, undirected = set(), set()
    for i, j in zip(*np.nonzero(a)):
        if a[j, i]:
            undirected.add(frozenset((names[i], names[j])))
        else:
            directed.add((names[i], names[j]))
    _directed_acyclic(names, directed, name)
    return PDAG(tuple(names), frozenset(directed), frozenset(undirected))


def _directed_acyclic(nodes, directed, name: str) -> None:
    """Raise naming ``name`` when the directed edges close a cycle."""
    try:
        CausalGraph({n: [p for p, c in sorted(directed) if c == n] for n in nodes})
    except CyclicGraphError as exc:
        raise CyclicGraphError(f"{name}: {exc}") from exc


def v_structures(graph) -> set[tuple[str, str, str]]:
    """The v-structures ``a -> c <- b`` (``a``, ``b`` not adjacent), as ``(a, c, b)``, ``a < b``.

    Example:
        >>> sorted(v_structures({"a": [], "b": [], "c": ["a", "b"]}))
        [('a', 'c', 'b')]
    """
    g = as_pdag(graph)
    parents: dict[str, list[str]] = {n: [] for n in g.nodes}
    for p, c in g.directed:
        parents[c].append(p)
    out = set()
    for c, pa in parents.items():
        for i, a in enumerate(sorted(pa)):
            for b in sorted(pa)[i + 1 :]:
                if not g.adjacent(a, b):
                    out.add((a, c, b))
    return out


def cpdag(graph) -> PDAG:
    """The CPDAG (essential graph) of a DAG's Markov equivalence class.

    Example:
        >>> g = cpdag({"a": [], "b": [], "c": ["a", "b"], "d": ["c"]})
        >>> sorted(g.directed), len(g.undirected)
        ([('a', 'c'), ('b', 'c'), ('c', 'd')], 0)
    """
    g = as_pdag(graph)
    if g.undirected:
        raise CausalError("cpdag expects a DAG; the graph given already has undirected edges")
    directed: set[tuple[str, str]] = set()
    for a, c, b in v_structures(g):
        directed |= {(a, c), (b, c)}
    undirected = {frozenset(e) for e in g.directed if e not in directed}
    while _apply_meek(g.nodes, directed, undirected):
        pass
    return PDAG(g.nodes, frozenset(directed), frozenset(undirected))


def _apply_meek(nodes, directed: set, undirected: set) -> bool:
    """Orient one undirected edge by Meek's R1, R2 or R3; returns whether one was oriented."""

    def adjacent(a, b):
        return (a, b) in directed or (b, a) in directed or frozenset((a, b)) in undirected

    for edge in sorted(undirected, key=sorted):
        for b, c in (sorted(edge), sorted(edge)[::-1]):
            # R1: a -> b -- c, a and c not adjacent  =>  b -> c
            r1 = any((a, b) in directed and not adjacent(a, c) for a in nodes if a not in (b, c))
            # R2: b -> a -> c and b -- c  =>  b -> c
            r2 = any((b, a) in directed and (a, c) in directed for a in nodes)
            # R3: b -- k1, b -- k2, k1 -> c <- k2, k1 and k2 not adjacent  =>  b -> c
            ks = [k for k in nodes if frozenset((b, k)) in undirected and (k, c) in directed]
            r3 = any(not adjacent(k1, k2) for i, k1 in enumerate(ks) for k2 in ks[i + 1 :])
            if r1 or r2 or r3:
                undirected.discard(edge)
                directed.add((b, c))
                return True
    return False


def markov_equivalence_class(graph) -> list[CausalGraph]:
    """Every DAG Markov equivalent to ``graph`` (itself included), by orienting its CPDAG.

    Each undirected edge of the CPDAG is oriented both ways by backtracking; an orientation
    is kept when it is acyclic and creates no v-structure. Refuses CPDAGs with more than
    20 undirected edges.

    Example:
        >>> [g.edges for g in markov_equivalence_class({"a": [], "b": ["a"]})]
        [[('a', 'b')], [('b', 'a')]]
    """
    g = as_pdag(graph)
    essential = cpdag(g)
    free = sorted(sorted(e) for e in essential.undirected)
    if len(free) > _MAX_UNDIRECTED:
        raise CausalError(
            f"the CPDAG of graph has {len(free)} undirected edges; enumerating up to "
            f"2**{len(free)} orientations is refused (limit {_MAX_UNDIRECTED})"
        )
    target = v_structures(g)
    members = []

    def extend(k: int, edges: list[tuple[str, str]]) -> None:
        if k == len(free):
            parents = {n: [p for p, c in edges if c == n] for n in g.nodes}
            if _acyclic(parents) and v_structures(parents) == target:
                members.append(CausalGraph(parents))
            return
        a, b = free[k]
        for tail, head in ((a, b), (b, a)):
            # Prune early: an edge of the CPDAG's undirected part never sits in a v-structure.
            if any(c == head and not essential.adjacent(p, tail) for p, c in edges):
                continue
            extend(k + 1, edges + [(tail, head)])

    extend(0, sorted(essential.directed))
    return members


def _acyclic(parents: dict[str, list[str]]) -> bool:
    remaining = dict(parents)
    while remaining:
        roots = [n for n, pa in remaining.items() if not any(p in remaining for p in pa)]
        if not roots:
            return False
        for n in roots:
            del remaining[n]
    return True
