"""What each node of a NeuralSCM is (kind, shape) and where its values live in the feature row.

A unit's *feature row* concatenates every node's encoding in topological order: a
continuous node its standardised value(s) (1 column, or ``d`` for a vector node), a
categorical node its one-hot vector (``K`` columns). Mechanisms read their parents'
columns; the stacked fast path gathers them with ``parent_index`` / ``parent_mask``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..errors import CausalError
from ..graph import CausalGraph
from ..mechanisms.heads import ADDITIVE, CATEGORICAL, CONTINUOUS_KINDS, FLOW, KINDS

__all__ = ["Layout", "NodeSpec", "parse_specs"]

_OVERRIDE_KEYS = {"kind", "dim", "categories"}


@dataclass(frozen=True)
class NodeSpec:
    """One node: its mechanism kind, vector size (``None``: scalar), category count."""

    kind: str
    dim: int | None = None
    categories: int | None = None

    @property
    def width(self) -> int:
        """Feature columns the node occupies."""
        if self.kind == CATEGORICAL:
            return self.categories
        return 1 if self.dim is None else self.dim

    @property
    def continuous(self) -> bool:
        return self.kind != CATEGORICAL

    @property
    def banked(self) -> bool:
        """Scalar continuous nodes share the stacked mechanism bank."""
        return self.dim is None and self.kind in CONTINUOUS_KINDS

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _one(node: str, value, default: str) -> NodeSpec:
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, Mapping):
        raise CausalError(
            f"mechanism override for node {node!r} must be a kind name or a dict with keys "
            f"{sorted(_OVERRIDE_KEYS)}, got {type(value).__name__}"
        )
    unknown = set(value) - _OVERRIDE_KEYS
    if unknown:
        raise CausalError(f"mechanism override for node {node!r} has unknown keys {sorted(unknown)}")
    kind = value.get("kind", default)
    if kind not in KINDS:
        raise CausalError(f"mechanism of node {node!r} must be one of {list(KINDS)}, got {kind!r}")
    dim, categories = value.get("dim"), value.get("categories")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
        raise CausalError(f"dim of node {node!r} must be a positive int (vector node) or None, got {dim!r}")
    if kind == CATEGORICAL:
        if isinstance(categories, bool) or not isinstance(categories, int) or categories < 2:
            raise CausalError(f"categorical node {node!r} needs 'categories': an int >= 2, got {categories!r}")
        if dim is not None:
            raise CausalError(f"categorical node {node!r} is scalar; it cannot have dim={dim}")
    elif categories is not None:
        raise CausalError(f"node {node!r} is {kind!r}; only categorical nodes take 'categories'")
    return NodeSpec(kind, dim, categories)


def parse_specs(graph: CausalGraph, mechanism: str, overrides: Mapping | None) -> dict[str, NodeSpec]:
    """Each node's spec: the default ``mechanism`` unless ``overrides`` names the node."""
    if mechanism not in CONTINUOUS_KINDS:
        raise CausalError(f"mechanism must be one of {list(CONTINUOUS_KINDS)}, got {mechanism!r}")
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(graph.nodes)
    if unknown:
        raise CausalError(f"mechanisms names node(s) {sorted(unknown)} that are not in the graph; nodes: {graph.nodes}")
    return {n: _one(n, overrides.get(n, mechanism), mechanism) for n in graph.nodes}


class Layout:
    """Feature columns, parent gathers and levels of a graph with given node specs.

    Example:
        >>> g = CausalGraph({"x": [], "c": ["x"], "y": ["x", "c"]})
        >>> lay = Layout(g, {"x": NodeSpec("additive"), "c": NodeSpec("categorical", categories=3),
        ...                  "y": NodeSpec("additive")})
        >>> lay.columns["c"], lay.parent_columns["y"], lay.bank_nodes
        ([1, 2, 3], [0, 1, 2, 3], ['x', 'y'])
    """

    def __init__(self, graph: CausalGraph, specs: Mapping[str, NodeSpec]):
        self.graph, self.specs = graph, dict(specs)
        self.nodes = graph.nodes
        self.columns: dict[str, list[int]] = {}
        start = 0
        for n in self.nodes:
            self.columns[n] = list(range(start, start + self.specs[n].width))
            start += self.specs[n].width
        self.num_features = start
        self.parent_columns = {n: [c for p in graph.parents(n) for c in self.columns[p]] for n in self.nodes}
        self.bank_nodes = [n for n in self.nodes if self.specs[n].banked]
        self.bank_pos = {n: i for i, n in enumerate(self.bank_nodes)}
        self.other_nodes = [n for n in self.nodes if not self.specs[n].banked]
        self.levels = graph.levels()
        self.bank_kinds = sorted({self.specs[n].kind for n in self.bank_nodes})

    @property
    def fan_in(self) -> list[int]:
        return [len(self.parent_columns[n]) for n in self.bank_nodes]

    def parent_index(self) -> tuple[list[list[int]], list[list[float]]]:
        """``(parent_index [M, P], parent_mask [M, P])`` of the banked nodes, padded with 0."""
        width = max([1, *self.fan_in])
        index, mask = [], []
        for n in self.bank_nodes:
            cols = self.parent_columns[n]
            index.append(cols + [0] * (width - len(cols)))
            mask.append([1.0] * len(cols) + [0.0] * (width - len(cols)))
        return index, mask

    @property
    def kernel_ready(self) -> bool:
        """All nodes banked, one kind the fused kernels implement (additive or location-scale)."""
        return not self.other_nodes and len(self.bank_kinds) == 1 and self.bank_kinds[0] != FLOW

    def is_additive_only(self) -> bool:
        return self.bank_kinds == [ADDITIVE]
