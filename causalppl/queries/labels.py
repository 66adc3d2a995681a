"""Tensors of batched site values -> an ``xarray.Dataset`` with named dims."""

from __future__ import annotations

import functools

import numpy as np
import torch
import xarray as xr

from ..errors import CausalError

__all__ = ["describe_actions", "layout_of", "to_dataset"]


def layout_of(info, names) -> dict[str, tuple[tuple[str, ...], tuple]]:
    """``{site: (event dim names, ((plate dim, plate name), ...))}`` read from a program's probe."""
    return {n: (info.event_dims(n), tuple(info.frames(n).items())) for n in names}


def to_dataset(values: dict[str, torch.Tensor], layout, lead: list[tuple[str, int, int]], coords=None, attrs=None):
    """Label each site's value.

    Args:
        values: ``{site: tensor}`` with batch dims right-aligned as Pyro lays them out.
        layout: ``{site: (event dim names, plate frames)}`` (:func:`layout_of`).
        lead: ``(dim name, batch dim, size)`` of the dims the query added (world, sample, unit).
    """
    lead = tuple(lead)
    data_vars = {}
    for name, value in values.items():
        event_dims, frames = layout[name]
        ev = len(event_dims)
        sizes, keep, names = _layout(name, tuple(value.shape), event_dims, lead, frames)
        value = value.detach()
        rank_here = len(sizes)
        value = value.reshape((1,) * (rank_here + ev - value.dim()) + tuple(value.shape))
        if tuple(value.shape[:rank_here]) != sizes:
            value = value.expand(sizes + tuple(value.shape[rank_here:]))
        if len(keep) < rank_here:
            value = value.reshape([value.shape[i] for i in keep] + list(value.shape[rank_here:]))
        data_vars[name] = (names, _numpy(value))
    _check_dim_sizes(data_vars)
    return xr.Dataset(data_vars, coords=_coordinates(coords), attrs=attrs or {})


def _check_dim_sizes(data_vars: dict) -> None:
    """Sites that name a dim alike must agree on its size (xarray's own error names no site)."""
    seen: dict[str, tuple[str, int]] = {}
    for site, (names, array) in data_vars.items():
        if len(set(names)) != len(names):
            raise CausalError(f"site {site!r} would have the dims {names}: name its event dims apart from its plates")
        for dim, size in zip(names, array.shape):
            first = seen.setdefault(dim, (site, size))
            if first[1] != size:
                raise CausalError(
                    f"sites {first[0]!r} and {site!r} both have a dim named {dim!r}, of sizes {first[1]} and "
                    f"{size}: name the event dims of one apart (infer={{'event_dims': ...}})"
                )


def _coordinates(coords):
    """``coords`` as an ``xr.Coordinates``, cached: building the pandas index of a coordinate
    (``world = ["factual", "counterfactual"]``) is a third of labelling a 20-site result.
    Sharing one is safe: xarray hands out index values read-only."""
    if not coords:
        return {}
    if all(isinstance(v, (list, tuple)) and all(isinstance(x, (str, int)) for x in v) for v in coords.values()):
        return _cached_coordinates(tuple((k, tuple(v)) for k, v in coords.items()))
    return xr.Coordinates(coords)


@functools.lru_cache(maxsize=64)
def _cached_coordinates(key):
    return xr.Coordinates({k: list(v) for k, v in key})


@functools.lru_cache(maxsize=4096)
def _layout(name: str, shape: tuple, event_dims: tuple, lead: tuple, frames: tuple):
    """Where a site's value goes: its batch sizes after broadcasting to the query's dims, the
    batch axes kept (size-1 dims outside every plate are dropped) and the kept dims' names.
    Cached: a query loop labels the same shapes call after call."""
    rank, ev = -min(d for _, d, _ in lead), len(event_dims)
    lead_at = {d: (dim_name, size) for dim_name, d, size in lead}
    frames = dict(frames)
    batch = shape[: len(shape) - ev]
    rank_here = max(len(batch), rank)
    full = (1,) * (rank_here - len(batch)) + tuple(batch)
    dims, sizes = [], []
    for i, d in enumerate(range(-rank_here, 0)):
        size = full[i]
        if d in lead_at:
            if size not in (1, lead_at[d][1]):
                raise _misshapen(
                    name,
                    shape,
                    f"size {size} at dim {d}, where the query's {lead_at[d][0]!r} dim has size {lead_at[d][1]}",
                )
            dims.append(lead_at[d][0])
            sizes.append(lead_at[d][1])
        elif d in frames:
            dims.append(frames[d])
            sizes.append(size)
        elif size != 1:
            raise _misshapen(name, shape, f"a batch dim of size {size} at dim {d} that no plate declares")
        else:
            dims.append(None)
            sizes.append(1)
    keep = tuple(i for i, d in enumerate(dims) if d is not None)
    names = tuple(dims[i] for i in keep) + tuple(event_dims)
    return tuple(sizes), keep, names


def _misshapen(name: str, shape: tuple, what: str) -> CausalError:
    return CausalError(
        f"site {name!r} came out with shape {shape}: {what}. The query runs the model vectorised (plates of "
        "samples, worlds and units on the left): build values by broadcasting, keep reductions over a plate's "
        "dim with keepdim=True, and declare vector sites with .to_event()"
    )


def _numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bool:
        return t.cpu().numpy()
    return t.cpu().numpy() if t.dtype != torch.bfloat16 else t.float().cpu().numpy()


def describe_actions(actions: dict) -> str:
    """``{site: action}`` in a line for ``attrs``: numbers as they are, a tensor of many values by
    its shape (printing 1,000 values is neither readable nor free), a callable by its name."""

    def one(a):
        if callable(a):
            return getattr(a, "__name__", type(a).__name__)
        try:
            t = torch.as_tensor(a)
        except (TypeError, ValueError, RuntimeError):  # not a number: checked (and refused) later
            return repr(a)
        return repr(t.tolist()) if t.numel() <= 4 else f"tensor of shape {tuple(t.shape)}"

    return "{" + ", ".join(f"{k!r}: {one(a)}" for k, a in actions.items()) + "}"
