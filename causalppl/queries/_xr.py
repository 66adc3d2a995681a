"""Tensors of batched site values -> an ``xarray.Dataset`` with named dims."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

__all__ = ["to_dataset"]


def to_dataset(values: dict[str, torch.Tensor], info, lead: list[tuple[str, int, int]], coords=None, attrs=None):
    """Label each site's value.

    Args:
        values: ``{site: tensor}`` with batch dims right-aligned as Pyro lays them out.
        info: the program's :class:`ProgramInfo` (event shapes and plate names).
        lead: ``(dim name, batch dim, size)`` of the dims the query added (world, sample, unit).
    """
    rank = -min(d for _, d, _ in lead)
    lead_at = {d: (name, size) for name, d, size in lead}
    data_vars = {}
    for name, value in values.items():
        value = value.detach()
        ev = len(info.event_shape(name))
        batch = value.shape[: value.dim() - ev]
        if len(batch) > rank:
            batch_extra = len(batch) - rank
            rank_here = len(batch)
        else:
            batch_extra, rank_here = 0, rank
        value = value.reshape((1,) * (rank_here - len(batch)) + tuple(value.shape))
        frames = info.frames(name)
        dims, sizes = [], []
        for i, d in enumerate(range(-rank_here, 0)):
            size = value.shape[i]
            if d in lead_at:
                dims.append(lead_at[d][0])
                sizes.append(lead_at[d][1])
            elif d in frames:
                dims.append(frames[d])
                sizes.append(size)
            elif size != 1 or i < batch_extra:
                dims.append(f"{name}_batch{d}")
                sizes.append(size)
            else:
                dims.append(None)
                sizes.append(1)
        if list(value.shape[:rank_here]) != sizes:
            value = value.expand(tuple(sizes) + tuple(value.shape[rank_here:]))
        keep = [i for i, d in enumerate(dims) if d is not None]
        if len(keep) < rank_here:
            value = value.reshape([value.shape[i] for i in keep] + list(value.shape[rank_here:]))
        names = [dims[i] for i in keep] + [f"{name}_dim_{i}" for i in range(ev)]
        data_vars[name] = (names, _numpy(value))
    return xr.Dataset(data_vars, coords=coords or {}, attrs=attrs or {})


def _numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bool:
        return t.cpu().numpy()
    return t.cpu().numpy() if t.dtype != torch.bfloat16 else t.float().cpu().numpy()
