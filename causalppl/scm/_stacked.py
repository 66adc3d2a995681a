"""The stacked evaluation of banked nodes: groups of nets, parameter snapshots, noise heads.

A *group* is a set of banked nodes evaluated together (all of them, or one topological
level, or the nodes a counterfactual must recompute). A *snapshot* reads the module's
tensors once per call (PyroModule attribute access costs microseconds each).

Measured with ``causalppl bench cpu_paths`` (one torch thread on a shared 2-core CPU box,
2026-12-06; 20-node tanh NeuralSCM, do on the two nodes with the most descendants, no
autograd): caching each node set's gathers on the model wins 1.34x-1.40x on
``counterfactual_rows`` of one unit (hidden (32, 32) and (64, 64)), 1.15x-1.23x on one-unit
``cp.sample`` / ``cp.counterfactual`` and 1.01x-1.07x at 4,096 units, so it stays
(:func:`stacked_options` switches it off)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import torch

from ..mechanisms.blocked_mlp import blocked_mlp, reference_mlp, worth_blocking
from ..mechanisms.heads import ADDITIVE, FLOW, additive_scale, scale_transform
from ..mechanisms.spline import rq_spline, spline_param_count

__all__ = ["Group", "Snapshot", "abduct_bank", "group", "push_bank", "raw", "snapshot", "stacked_options"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class Group:
    """Banked nodes evaluated together, with their gathers and kinds."""

    nodes: list[str]
    nets: torch.Tensor | None  # bank positions; None: the whole bank in order
    index: torch.Tensor  # [M', P]
    mask: torch.Tensor  # [M', 1, P]
    cols: torch.Tensor  # [M'] feature columns
    kind: str | None  # the one kind of all nodes, or None when mixed
    is_additive: torch.Tensor  # [M', 1] bool
    any_additive: bool
    flow_rows: torch.Tensor | None
    roots: int  # the first `roots` rows are root nodes: constant outputs, evaluated on one row

    @cached_property
    def rest_index(self) -> torch.Tensor:
        """The parent gathers of the non-root nets."""
        return self.index[self.roots :]

    @cached_property
    def rest_mask(self) -> torch.Tensor:
        return self.mask[self.roots :]


_OPTIONS = {"groups": True, "mlp": "auto"}


@contextlib.contextmanager
def stacked_options(*, groups: bool | None = None, mlp=None) -> Iterator[None]:
    """Switch the stacked path's optimisations inside a block (``causalppl bench cpu_paths``
    measures each with its switch); ``None`` leaves a setting as it is.

    Args:
        groups: cache each node set's gathers on the model (the default), or build them on
            each call. The cache pays on one-unit queries, where the gathers are a third of
            the work (``counterfactual_rows`` of one unit 1.34x-1.40x, module docstring).
        mlp: the stacked MLP: ``"auto"`` (the blocked path where it was measured to pay,
            :func:`~causalppl.mechanisms.blocked_mlp.worth_blocking`), ``"blocked"``,
            ``"reference"``, or a function with the signature of
            :func:`~causalppl.mechanisms.blocked_mlp.reference_mlp` (``torch.compile`` of it).

    Example:
        >>> import causalppl as cp
        >>> scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
        >>> with stacked_options(groups=False, mlp="reference"):
        ...     group(scm, ("x", "y")) is group(scm, ("x", "y"))
        False
    """
    saved = dict(_OPTIONS)
    _OPTIONS.update({k: v for k, v in (("groups", groups), ("mlp", mlp)) if v is not None})
    try:
        yield
    finally:
        _OPTIONS.update(saved)


def group(scm, nodes: tuple[str, ...]) -> Group:
    """The gathers and kinds of the banked ``nodes``, cached on the model per node set
    (:func:`stacked_options`)."""
    like = scm.feature_loc
    key = (nodes, like.device, like.dtype)  # .to() moves the buffers: cached gathers must follow
    found = scm._groups.get(key) if _OPTIONS["groups"] else None
    if found is not None:
        return found
    lay, dev = scm.layout, like.device
    pos = [lay.bank_pos[n] for n in nodes]
    whole = pos == list(range(len(lay.bank_nodes)))
    nets = None if whole else torch.tensor(pos, dtype=torch.long, device=dev)
    index, mask = scm.parent_index, scm.parent_mask
    kinds = [scm.specs[n].kind for n in nodes]
    flows = [i for i, k in enumerate(kinds) if k == FLOW]
    found = Group(
        nodes=list(nodes),
        nets=nets,
        index=index if whole else index.index_select(0, nets),
        mask=(mask if whole else mask.index_select(0, nets)).unsqueeze(1),
        cols=torch.tensor([lay.columns[n][0] for n in nodes], dtype=torch.long, device=dev),
        kind=kinds[0] if len(set(kinds)) == 1 else None,
        is_additive=torch.tensor([[k == ADDITIVE] for k in kinds], device=dev),
        any_additive=ADDITIVE in kinds,
        flow_rows=torch.tensor(flows, dtype=torch.long, device=dev) if flows else None,
        roots=_leading_roots(scm, nodes),
    )
    if _OPTIONS["groups"]:
        scm._groups[key] = found
    return found


def _leading_roots(scm, nodes) -> int:
    """How many of ``nodes`` are roots before the first non-root (topological order puts
    every root first, so for the whole bank these are all its roots)."""
    count = 0
    for n in nodes:
        if scm.graph.parents(n):
            break
        count += 1
    return count


class Snapshot:
    """The tensors of one NeuralSCM, read once for one fast-path call."""

    def __init__(self, scm):
        self.loc, self.scale = scm.feature_loc, scm.feature_scale
        self.bins, self.bound = scm.config["bins"], scm.config["bound"]
        if scm.layout.bank_nodes:
            bank = scm.bank
            self.weights, self.biases = bank.weights(), bank.biases()
            self.raw_scale = bank.raw_scale if bank.scale_dims else None
            self.act_name = bank.activation

    def layers(self, g: Group) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor | None]:
        """The group's weight and bias slices, and additive noise scales ``[M', 1]``."""
        rs, nets = self.raw_scale, g.nets
        if nets is None:
            weights, biases = self.weights, self.biases
        else:
            weights = [w.index_select(0, nets) for w in self.weights]
            biases = [b.index_select(0, nets) for b in self.biases]
            rs = rs.index_select(0, nets) if rs is not None else None
        return weights, biases, (additive_scale(rs[:, 0]).unsqueeze(-1) if rs is not None else None)


def snapshot(scm) -> Snapshot:
    return Snapshot(scm)


def raw(snap: Snapshot, g: Group, X: torch.Tensor):
    """Raw outputs ``[M', B, W]`` of the group's nets on feature rows ``X [B, F]``, and its
    additive noise scales ``[M', 1]``.

    Root nodes read no parents, so their outputs do not depend on the row: they are
    computed on one row and broadcast (what the Pyro program does too).
    """
    weights, biases, fixed_scale = snap.layers(g)
    if g.roots < len(g.nodes):
        h = X[:, g.rest_index].permute(1, 0, 2) * g.rest_mask
    else:  # only roots: no parents to gather
        h = X.new_empty(0, X.shape[0], g.index.shape[1])
    mlp = _OPTIONS["mlp"]
    if mlp == "auto":  # the blocked path where it was measured to pay (same numbers)
        mlp = "blocked" if worth_blocking(h, weights, snap.act_name) else "reference"
    mlp = {"blocked": blocked_mlp, "reference": reference_mlp}.get(mlp, mlp)
    return mlp(h, weights, biases, snap.act_name, roots=g.roots), fixed_scale


def _loc_scale(g: Group, out: torch.Tensor, fixed):
    loc = out[..., 0]
    if g.any_additive:
        if g.kind == ADDITIVE:
            return loc, fixed
    learned = scale_transform(out[..., 1])
    return loc, (torch.where(g.is_additive, fixed, learned) if g.any_additive else learned)


def _spline_params(snap: Snapshot, out: torch.Tensor) -> torch.Tensor:
    return out[..., 2 : 2 + spline_param_count(snap.bins)]


def abduct_bank(snap: Snapshot, g: Group, outputs, x: torch.Tensor):
    """Noise ``u`` and log-density (model units) ``[M', B]`` of standardised values ``x``."""
    out, fixed_scale = outputs
    loc, scale = _loc_scale(g, out, fixed_scale)
    z = (x - loc) / scale
    u, logdet = z, None
    if g.kind == FLOW:
        u, logdet = rq_spline(z, _spline_params(snap, out), snap.bound, inverse=True)
    elif g.flow_rows is not None:
        rows = g.flow_rows
        uf, lf = rq_spline(z.index_select(0, rows), _spline_params(snap, out.index_select(0, rows)), snap.bound, True)
        u = z.index_copy(0, rows, uf)
        logdet = torch.zeros_like(z).index_copy(0, rows, lf)
    lp = -0.5 * u * u - _LOG_SQRT_2PI - torch.log(scale)
    return u, (lp if logdet is None else lp + logdet)


def push_bank(snap: Snapshot, g: Group, outputs, u: torch.Tensor) -> torch.Tensor:
    """Standardised values ``[M', B]`` the group's mechanisms give noise ``u``."""
    out, fixed_scale = outputs
    loc, scale = _loc_scale(g, out, fixed_scale)
    z = u
    if g.kind == FLOW:
        z = rq_spline(u, _spline_params(snap, out), snap.bound)[0]
    elif g.flow_rows is not None:
        rows = g.flow_rows
        zf = rq_spline(u.index_select(0, rows), _spline_params(snap, out.index_select(0, rows)), snap.bound)[0]
        z = u.index_copy(0, rows, zf)
    return loc + scale * z
