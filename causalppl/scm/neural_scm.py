"""``NeuralSCM``: a structural causal model with neural mechanisms, built from a graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.nn import PyroModule

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph
from ..handlers.intervention import check_actions
from ..kernels.activations import activation_fn
from ..mechanisms import AdditiveNoise, CategoricalMechanism, LocationScale, MechanismBank, SplineFlow
from ..mechanisms.heads import ADDITIVE, CATEGORICAL, FLOW, LOCATION_SCALE, head_width
from . import fast
from .spec import Layout, NodeSpec, parse_specs

__all__ = ["NeuralSCM"]

_CLASSES = {ADDITIVE: AdditiveNoise, LOCATION_SCALE: LocationScale, FLOW: SplineFlow, CATEGORICAL: CategoricalMechanism}


class NeuralSCM(PyroModule):
    """A structural causal model whose mechanisms are neural networks.

    Calling the module runs a Pyro program with one ``pyro.sample(node, ...)`` site per
    node, in topological order, describing ONE unit (scalar nodes have event shape
    ``()``), so it vectorises the Pyro way (``with pyro.plate("unit", n): scm()``) and
    :func:`causalppl.graph`, :func:`causalppl.do`, :func:`causalppl.sample`,
    :func:`causalppl.counterfactual` and ``pyro.infer`` all apply unchanged.

    The sample sites are in data units. Internally every continuous node is standardised
    (per-node mean and sd, buffers set by :func:`causalppl.fit` from the training data):
    mechanisms read standardised parents and the site's law maps back to data units
    (a rescaled ``Normal``, or a final affine step of a flow), so counterfactual queries
    see raw units and abduction stays exact.

    All scalar continuous nodes share one :class:`~causalppl.mechanisms.MechanismBank`:
    their MLP parameters are stacked, and the per-node mechanisms of the Pyro path are
    views of the same tensors that the batched paths (:meth:`batched_paths`, which
    ``cp.sample``, ``cp.counterfactual``, ``cp.effect`` and ``cp.fit`` take by themselves;
    :meth:`log_prob`, :meth:`abduct`, :meth:`counterfactual_rows`) evaluate in one op.

    Args:
        parents: ``{node: [parents]}`` or a :class:`~causalppl.CausalGraph`.
        mechanism: default kind: ``"additive"`` (``x = f(pa) + sigma U``),
            ``"location_scale"`` (``x = f(pa) + g(pa) U``) or ``"flow"`` (conditional
            rational-quadratic spline flow; roots get a learnable marginal).
        hidden: hidden layer widths of every MLP (``()``: linear mechanisms).
        activation: ``"tanh" | "relu" | "silu"``.
        mechanisms: per-node overrides, ``{node: kind}`` or ``{node: {"kind": ...,
            "dim": d, "categories": K}}`` (vector nodes; categorical nodes through
            Gumbel-max).
        standardize: learn in standardised units (set from data by :func:`causalppl.fit`).
        bins, bound: spline bins and half-width of flow mechanisms.

    Example:
        >>> import torch, pyro
        >>> import causalppl as cp
        >>> from causalppl.scm import NeuralSCM
        >>> scm = NeuralSCM({"x": [], "h": ["x"], "y": ["x", "h"]}, hidden=(8,))
        >>> cp.graph(scm).edges
        [('x', 'h'), ('x', 'y'), ('h', 'y')]
        >>> with pyro.plate("unit", 5):
        ...     values = scm()
        >>> values["y"].shape, scm.log_prob(values).shape
        (torch.Size([5]), torch.Size([5]))
    """

    def __init__(
        self,
        parents: Mapping[str, Sequence[str]] | CausalGraph,
        mechanism: str = "additive",
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        mechanisms: Mapping[str, object] | None = None,
        standardize: bool = True,
        bins: int = 8,
        bound: float = 4.0,
    ):
        super().__init__()
        graph = parents if isinstance(parents, CausalGraph) else CausalGraph(parents)
        if not len(graph):
            raise CausalError("parents describes a graph with no nodes")
        if isinstance(hidden, int) or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise CausalError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        activation_fn(activation)
        if not isinstance(bins, int) or bins < 2 or not bound > 0:
            raise CausalError(f"bins must be an int >= 2 and bound > 0, got bins={bins!r}, bound={bound!r}")
        self.graph = graph
        self.specs = parse_specs(graph, mechanism, mechanisms)
        self.layout = lay = Layout(graph, self.specs)
        self.config = dict(
            parents=graph.parents_dict(),
            mechanism=mechanism,
            hidden=[int(h) for h in hidden],
            activation=activation,
            standardize=checks.boolean(standardize, "standardize"),
            bins=int(bins),
            bound=float(bound),
            mechanisms={n: s.to_dict() for n, s in self.specs.items() if s != NodeSpec(mechanism)},
        )
        self._index = {n: i for i, n in enumerate(graph.nodes)}
        if lay.bank_nodes:
            width = max(head_width(k, bins) for k in lay.bank_kinds)
            self.bank = MechanismBank(
                lay.fan_in, hidden, width, activation, scale_dims=1 if ADDITIVE in lay.bank_kinds else 0
            )
        mechs = []
        for node in lay.nodes:
            spec = self.specs[node]
            kwargs = dict(hidden=tuple(hidden), activation=activation, dim=spec.dim)
            if spec.kind == FLOW:
                kwargs.update(bins=bins, bound=bound)
            if spec.kind == CATEGORICAL:
                kwargs.update(categories=spec.categories)
            if spec.banked:
                kwargs.update(bank=self.bank, index=lay.bank_pos[node])
            mechs.append(_CLASSES[spec.kind](len(lay.parent_columns[node]), **kwargs))
        self.mechanisms = PyroModule[torch.nn.ModuleList](mechs)
        self.register_buffer("feature_loc", torch.zeros(lay.num_features))
        self.register_buffer("feature_scale", torch.ones(lay.num_features))
        self.register_buffer("standardized", torch.tensor(False))
        index, mask = lay.parent_index()
        self.register_buffer("parent_index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer("parent_mask", torch.tensor(mask, dtype=torch.get_default_dtype()), persistent=False)
        self._groups: dict = {}

    # -- structure -----------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """Nodes in topological order."""
        return self.layout.nodes

    def parents(self, node: str) -> list[str]:
        return self.graph.parents(node)

    def mechanism(self, node: str):
        """The per-node mechanism module of ``node`` (a view of the shared bank when banked)."""
        return self.mechanisms[self._index[self.graph._check(node)]]

    # -- standardisation -----------------------------------------------------------------------
    @torch.no_grad()
    def set_standardization(self, values: Mapping[str, torch.Tensor]) -> None:
        """Per-feature mean and sd of continuous nodes from data ``{node: [n, ...]}``.

        Nodes missing from ``values`` (latent ones) keep mean 0 and sd 1.
        """
        loc, scale = torch.zeros_like(self.feature_loc), torch.ones_like(self.feature_scale)
        for node in self.nodes:
            if not self.specs[node].continuous or node not in values:
                continue
            v = values[node].to(loc.dtype).reshape(values[node].shape[0], -1)
            cols = self.layout.columns[node]
            sd = v.std(0, unbiased=False)
            loc[cols[0] : cols[-1] + 1] = v.mean(0)
            scale[cols[0] : cols[-1] + 1] = torch.where(sd > 1e-8 * (1 + v.abs().max()), sd, torch.ones_like(sd))
        self.feature_loc.copy_(loc)
        self.feature_scale.copy_(scale)
        self.standardized.fill_(True)

    def output_affine(self, node: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, scale)`` mapping ``node``'s model units to data units."""
        cols = self.layout.columns[node]
        a, b = cols[0], cols[-1] + 1
        if self.specs[node].dim is None:
            return self.feature_loc[a], self.feature_scale[a]
        return self.feature_loc[a:b], self.feature_scale[a:b]

    def encode(self, node: str, value: torch.Tensor) -> torch.Tensor:
        """``node``'s features ``[..., width]``: standardised value(s), or one-hot category."""
        spec = self.specs[node]
        if spec.kind == CATEGORICAL:
            return F.one_hot(value.long(), spec.categories).to(self.feature_loc.dtype)
        loc, scale = self.output_affine(node)
        value = value.to(loc.dtype)
        return ((value if spec.dim is not None else value.unsqueeze(-1)) - _col(loc, spec)) / _col(scale, spec)

    def parent_features(self, node: str, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        encoded = [self.encode(p, values[p]) for p in self.graph.parents(node)]
        if not encoded:
            return self.feature_loc.new_zeros(0)
        shape = torch.broadcast_shapes(*(e.shape[:-1] for e in encoded))
        return torch.cat([e.expand(shape + e.shape[-1:]) for e in encoded], -1)

    def node_distribution(self, node: str, values: Mapping[str, torch.Tensor]):
        """The law of ``node`` given its parents' values (data units), as its site uses it."""
        mech = self.mechanism(node)
        raw = mech.raw(self.parent_features(node, values))
        if self.specs[node].kind == CATEGORICAL:
            return mech.distribution(raw)
        return mech.distribution(raw, *self.output_affine(node))

    # -- the Pyro program ----------------------------------------------------------------------
    def forward(self) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        for node in self.nodes:
            values[node] = pyro.sample(node, self.node_distribution(node, values))
        return values

    # -- fast paths ----------------------------------------------------------------------------
    def log_prob(self, data, *, ignore_extra: bool = False, per_node: bool = False):
        """Joint log density ``[batch]`` of fully observed rows (all nodes, one batched pass).

        Equals the sum of the per-site log densities of the Pyro program conditioned on
        ``data`` (dict of tensors, DataFrame or xarray Dataset). With ``per_node``: a
        dict ``{node: [batch]}`` of each node's log density given its parents.
        """
        return fast.log_prob(self, fast.table(self, data, ignore_extra=ignore_extra), per_node=per_node)

    def abduct(self, data, *, ignore_extra: bool = False, seed: int | None = None) -> dict[str, torch.Tensor]:
        """Every node's exogenous noise recovered from fully observed rows, in one pass.

        Continuous nodes: the exact inverse of their mechanism. Categorical nodes: an exact
        draw from the Gumbel posterior given the observed category (random; ``seed``).
        """
        return fast.abduct(self, fast.table(self, data, ignore_extra=ignore_extra), seed=seed)

    def batched_paths(self):
        """The batched paths the queries take (:class:`causalppl.scm.batched.NeuralSCMPaths`)."""
        from .batched import NeuralSCMPaths

        return NeuralSCMPaths(self)

    def prototype(self, node: str):
        """A distribution with ``node``'s support, event shape and dtype (for value checks)."""
        spec, dtype = self.specs[node], self.feature_loc.dtype
        key = (node, dtype)
        found = self._groups.get(("prototype", key))
        if found is None:
            if spec.kind == CATEGORICAL:
                found = dist.Categorical(logits=torch.zeros(spec.categories, dtype=dtype))
            elif spec.dim is None:
                found = dist.Normal(torch.zeros((), dtype=dtype), 1.0)
            else:
                found = dist.Normal(torch.zeros(spec.dim, dtype=dtype), 1.0).to_event(1)
            self._groups[("prototype", key)] = found
        return found

    @property
    def columns(self):
        """``{node: ColumnSpec}``: what a data column of each node holds."""
        from ..inference.data import ColumnSpec

        return {
            n: ColumnSpec(() if s.dim is None else (s.dim,), None if s.continuous else s.categories)
            for n, s in self.specs.items()
        }

    def counterfactual_rows(self, rows: torch.Tensor, do: Mapping, *, seed: int | None = None) -> torch.Tensor:
        """The low-latency tensor form of :func:`causalppl.counterfactual` for fully observed units.

        ``rows [n, N]`` (or one row ``[N]``) hold every node in :attr:`nodes` order (all nodes
        scalar and continuous); returns the counterfactual rows under ``do``: the targets of
        ``do`` and their descendants recomputed from each unit's exactly abducted noise, every
        other node as observed. The same numbers as ``cp.counterfactual`` (tested), without
        building a Dataset.

        Example:
            >>> scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
            >>> rows = scm.counterfactual_rows(torch.tensor([0.5, 1.0]), {"x": 0.5})
            >>> [round(v, 9) for v in rows.tolist()]  # a null intervention: the row, up to rounding
            [0.5, 1.0]
        """
        do = check_actions(do, "do")
        fast._check_names(self, do, "intervention")
        return fast.counterfactual_rows(self, rows, do, seed=seed)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> str:
        """Write graph, mechanism config, standardisation and weights to ``path``."""
        from .io import save

        return save(self, path)


def _col(t: torch.Tensor, spec) -> torch.Tensor:
    return t if spec.dim is not None else t.reshape(1)
