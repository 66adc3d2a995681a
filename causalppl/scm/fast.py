"""Stacked fast paths of :class:`~causalppl.scm.NeuralSCM`: log-density, abduction,
ancestral sampling and counterfactual prediction.

The banked (scalar continuous) nodes are evaluated together: their parents' feature
columns are gathered into ``[M, B, P]`` with ``parent_index``/``parent_mask`` and the
stacked MLPs run as one ``bmm`` per layer (all nodes at once for log-density and
abduction; one evaluation per topological level for sampling and prediction). Vector
and categorical nodes go through their own mechanism, exactly as the Pyro path does.
The Pyro program is the reference these functions are tested against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..errors import CausalError, UnknownSiteError
from ..mechanisms.heads import ADDITIVE, FLOW, additive_scale, scale_transform
from ..mechanisms.spline import rq_spline, spline_param_count
from ..noise import noise_model
from ..queries._program import seeded
from . import kernel_route
from .data import as_tensors

__all__ = ["abduct", "counterfactual", "encode_all", "log_prob", "log_prob_encoded", "sample", "table"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class _Group:
    """A set of banked nodes evaluated together (all of them, or one level)."""

    nodes: list[str]
    nets: torch.Tensor | None  # bank positions; None: the whole bank in order
    index: torch.Tensor  # [M', P]
    mask: torch.Tensor  # [M', P]
    cols: torch.Tensor  # [M'] feature columns of the nodes
    kind: str | None  # the one kind of all nodes, or None when mixed
    is_additive: torch.Tensor  # [M', 1] bool
    any_additive: bool
    flow_rows: torch.Tensor | None  # rows that are flows (None: none)


def _group(scm, nodes: tuple[str, ...]) -> _Group:
    key = (nodes, scm.feature_loc.device)
    group = scm._groups.get(key)
    if group is not None:
        return group
    lay, dev = scm.layout, scm.feature_loc.device
    pos = [lay.bank_pos[n] for n in nodes]
    whole = pos == list(range(len(lay.bank_nodes)))
    nets = None if whole else torch.tensor(pos, dtype=torch.long, device=dev)
    kinds = [scm.specs[n].kind for n in nodes]
    flows = [i for i, k in enumerate(kinds) if k == FLOW]
    group = _Group(
        nodes=list(nodes),
        nets=nets,
        index=scm.parent_index if whole else scm.parent_index.index_select(0, nets),
        mask=scm.parent_mask if whole else scm.parent_mask.index_select(0, nets),
        cols=torch.tensor([lay.columns[n][0] for n in nodes], dtype=torch.long, device=dev),
        kind=kinds[0] if len(set(kinds)) == 1 else None,
        is_additive=torch.tensor([[k == ADDITIVE] for k in kinds], device=dev),
        any_additive=ADDITIVE in kinds,
        flow_rows=torch.tensor(flows, dtype=torch.long, device=dev) if flows else None,
    )
    scm._groups[key] = group
    return group


def _select(t: torch.Tensor, nets: torch.Tensor | None) -> torch.Tensor:
    return t if nets is None else t.index_select(0, nets)


def _raw(scm, g: _Group, X: torch.Tensor) -> torch.Tensor:
    """Raw outputs ``[M', B, W]`` of the group's nets on feature rows ``X [B, F]``."""
    inputs = X[:, g.index].permute(1, 0, 2) * g.mask.unsqueeze(1)
    return scm.bank.forward_stacked(inputs, g.nets)


def _loc_scale(scm, g: _Group, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    loc = raw[..., 0]
    if g.any_additive:
        fixed = additive_scale(_select(scm.bank.raw_scale, g.nets)[:, 0]).unsqueeze(-1)
        if g.kind == ADDITIVE:
            return loc, fixed
    learned = scale_transform(raw[..., 1])
    return loc, (torch.where(g.is_additive, fixed, learned) if g.any_additive else learned)


def _spline_params(scm, raw: torch.Tensor) -> torch.Tensor:
    return raw[..., 2: 2 + spline_param_count(scm.config["bins"])]


def _abduct_bank(scm, g: _Group, raw: torch.Tensor, x: torch.Tensor):
    """Noise ``u`` and log-density (model units) ``[M', B]`` of standardised values ``x``."""
    loc, scale = _loc_scale(scm, g, raw)
    z = (x - loc) / scale
    u, logdet = z, None
    bound = scm.config["bound"]
    if g.kind == FLOW:
        u, logdet = rq_spline(z, _spline_params(scm, raw), bound, inverse=True)
    elif g.flow_rows is not None:
        rows = g.flow_rows
        uf, lf = rq_spline(z.index_select(0, rows), _spline_params(scm, raw.index_select(0, rows)), bound, True)
        u = z.index_copy(0, rows, uf)
        logdet = torch.zeros_like(z).index_copy(0, rows, lf)
    lp = -0.5 * u * u - _LOG_SQRT_2PI - torch.log(scale)
    return u, (lp if logdet is None else lp + logdet)


def _push_bank(scm, g: _Group, raw: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Standardised values ``[M', B]`` the group's mechanisms give noise ``u``."""
    loc, scale = _loc_scale(scm, g, raw)
    z = u
    bound = scm.config["bound"]
    if g.kind == FLOW:
        z = rq_spline(u, _spline_params(scm, raw), bound)[0]
    elif g.flow_rows is not None:
        rows = g.flow_rows
        zf = rq_spline(u.index_select(0, rows), _spline_params(scm, raw.index_select(0, rows)), bound)[0]
        z = u.index_copy(0, rows, zf)
    return loc + scale * z


# -- data in -----------------------------------------------------------------------------------
def table(scm, data, *, ignore_extra: bool = False) -> dict[str, torch.Tensor]:
    """Fully observed rows as checked tensors (every node present)."""
    return as_tensors(data, scm.specs, ignore_extra=ignore_extra, dtype=scm.feature_loc.dtype)[0]


def encode_all(scm, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Feature rows ``[n, F]`` of fully observed values (standardised / one-hot)."""
    n = next(iter(values.values())).shape[0]
    return torch.cat([scm.encode(v, values[v]).reshape(n, -1) for v in scm.nodes], -1)


def _bank_values(scm, X: torch.Tensor, g: _Group) -> torch.Tensor:
    return X.index_select(1, g.cols).T


# -- log density and abduction ---------------------------------------------------------------
def log_prob(scm, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return log_prob_encoded(scm, encode_all(scm, values), values)


def log_prob_encoded(scm, X: torch.Tensor, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Joint log density ``[B]`` given feature rows and the same rows in data units."""
    lay = scm.layout
    total = X.new_zeros(X.shape[0])
    if lay.bank_nodes:
        g = _group(scm, tuple(lay.bank_nodes))
        routed = kernel_route.log_prob(scm, X)
        if routed is not None:
            total = routed
        else:
            _, lp = _abduct_bank(scm, g, _raw(scm, g, X), _bank_values(scm, X, g))
            total = lp.sum(0)
        total = total - torch.log(scm.feature_scale.index_select(0, g.cols)).sum()
    for node in lay.other_nodes:
        total = total + scm.node_distribution(node, values).log_prob(values[node])
    return total


def abduct(scm, values: Mapping[str, torch.Tensor], seed: int | None = None) -> dict[str, torch.Tensor]:
    lay = scm.layout
    out: dict[str, torch.Tensor] = {}
    if lay.bank_nodes:
        X = encode_all(scm, values)
        g = _group(scm, tuple(lay.bank_nodes))
        u = kernel_route.abduct(scm, X)
        if u is not None:
            u = u.T
        else:
            u, _ = _abduct_bank(scm, g, _raw(scm, g, X), _bank_values(scm, X, g))
        out.update(zip(g.nodes, u.unbind(0)))
    with seeded(seed):
        for node in lay.other_nodes:
            out[node] = noise_model(scm.node_distribution(node, values), node).abduct(values[node])
    return {n: out[n] for n in scm.nodes}


# -- ancestral prediction ----------------------------------------------------------------------
def _check_names(scm, names, role: str) -> None:
    unknown = set(names) - set(scm.nodes)
    if unknown:
        raise UnknownSiteError(unknown, scm.nodes, role=role)


def _target(scm, node: str, action, natural: torch.Tensor) -> torch.Tensor:
    """The value ``do`` gives ``node`` (data units), shaped like ``natural``."""
    value = action(natural) if isinstance(action, Callable) else action
    try:
        value = torch.as_tensor(value, dtype=natural.dtype, device=natural.device)
        value = value.expand(natural.shape)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CausalError(f"intervention on node {node!r}: cannot use {action!r} for shape "
                          f"{tuple(natural.shape)}") from e
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise CausalError(f"intervention on node {node!r} contains NaN or inf")
    return value


def _run(scm, X, out, n, todo, noise, do):
    """Fill ``X``/``out`` for the nodes in ``todo``, level by level (ancestral order)."""
    lay = scm.layout
    for level in lay.levels:
        banked = tuple(v for v in level if v in todo and scm.specs[v].banked)
        if banked:
            g = _group(scm, banked)
            u = torch.stack([_noise(scm, v, noise, n, X) for v in banked])
            x = _push_bank(scm, g, _raw(scm, g, X), u)
            loc, scale = scm.feature_loc.index_select(0, g.cols), scm.feature_scale.index_select(0, g.cols)
            data = loc.unsqueeze(-1) + scale.unsqueeze(-1) * x
            if any(v in do for v in banked):
                rows = [(_target(scm, v, do[v], data[i]) if v in do else data[i]) for i, v in enumerate(banked)]
                data = torch.stack(rows)
                x = (data - loc.unsqueeze(-1)) / scale.unsqueeze(-1)
            X = X.index_copy(1, g.cols, x.T)
            out.update(zip(banked, data.unbind(0)))
        for v in level:
            if v not in todo or scm.specs[v].banked:
                continue
            fn = scm.node_distribution(v, out)
            if fn.batch_shape != torch.Size([n]):
                fn = fn.expand(torch.Size([n]))
            nm = noise_model(fn, v)
            u = noise[v] if v in noise else nm.noise_dist(fn.batch_shape).sample()
            value = nm.push(u)
            if v in do:
                value = _target(scm, v, do[v], value)
            out[v] = value
            cols = lay.columns[v]
            X = torch.cat([X[:, : cols[0]], scm.encode(v, value).reshape(n, -1), X[:, cols[-1] + 1:]], 1)
    return X, out


def _noise(scm, node, noise, n, X):
    if node in noise:
        u = torch.as_tensor(noise[node], dtype=X.dtype, device=X.device)
        if u.shape != (n,):
            raise CausalError(f"noise for node {node!r} has shape {tuple(u.shape)}; expected ({n},)")
        return u
    return torch.randn(n, dtype=X.dtype, device=X.device)


def sample(scm, n: int, *, do: Mapping, noise: Mapping, seed: int | None = None) -> dict[str, torch.Tensor]:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CausalError(f"num_samples must be a positive int, got {n!r}")
    _check_names(scm, do, "intervention")
    _check_names(scm, noise, "noise")
    routed = kernel_route.sample(scm, n, do, noise, seed)
    if routed is not None:
        return routed
    X = scm.feature_loc.new_zeros(n, scm.layout.num_features)
    with seeded(seed):
        _, out = _run(scm, X, {}, n, set(scm.nodes), noise, do)
    return {v: out[v] for v in scm.nodes}


def counterfactual(scm, values, do: Mapping, *, noise: Mapping | None = None, seed: int | None = None):
    _check_names(scm, do, "intervention")
    n = next(iter(values.values())).shape[0]
    affected = set(do)
    for t in do:
        affected |= scm.graph.descendants(t)
    X = encode_all(scm, values)
    if noise is None:
        routed = kernel_route.counterfactual(scm, X, values, do, affected)
        if routed is not None:
            return routed
        with seeded(seed):
            noise = abduct(scm, values)
    _check_names(scm, noise, "noise")
    missing = affected - set(noise) - set(do)
    if missing:
        raise CausalError(f"noise is missing node(s) {sorted(missing)}")
    _, out = _run(scm, X, dict(values), n, affected, noise, do)
    return {v: out[v] for v in scm.nodes}
