"""Reused buffers for the blocked MLP: fresh large tensors cost page faults on every call.

A tensor of a megabyte or more is new memory from the kernel each time (glibc maps blocks
above its mmap threshold, at most 32 MB, and unmaps them on free), and the first write to
each 4 KB page of it faults. For 50 nets x 4,096 rows x 64 units that was over a quarter
of a forward + backward (148 -> 107 ms measured). Two pools avoid it, one per thread, each keyed by dtype and device:

* :func:`scratch`: one flat buffer per *kind*, for tensors that never outlive one forward
  or one backward. Memory stays bounded: a kind's buffer only grows.
* :func:`lease` / :func:`give_back`: the activations the backward reads, which outlive the
  forward. A lease hands out a free buffer (or a fresh one); the backward gives it back
  once it has read it. Leases are checked, not trusted: :func:`still_ours` compares the
  buffer's in-place version counter with the one recorded after the forward wrote it, so a
  graph kept alive past its first backward (``retain_graph=True``) whose buffer was leased
  again and overwritten is detected, and its backward recomputes the forward instead of
  reading another call's numbers. A graph dropped without a backward frees its buffers as
  any tensor would.
"""

from __future__ import annotations

import math
import threading

import torch

__all__ = ["give_back", "lease", "scratch", "still_ours", "KEEP"]

KEEP = 16  # free leased buffers kept per dtype and device (a call leases up to 2 (depth - 1) per piece)

_LOCAL = threading.local()


def _pool(name: str) -> dict:
    return _LOCAL.__dict__.setdefault(name, {})


def scratch(kind: str, like: torch.Tensor, shape) -> torch.Tensor:
    """A per-thread buffer of ``shape`` reused across calls; its contents are undefined."""
    key = (kind, like.dtype, like.device)
    pool, size = _pool("scratch"), math.prod(shape)
    buf = pool.get(key)
    if buf is None or buf.numel() < size:
        buf = pool[key] = like.new_empty(size)
    return buf[:size].view(shape)


def lease(like: torch.Tensor, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """A buffer of ``shape`` for saved activations: ``(flat, view)``, the flat buffer to
    give back and the view to write. The smallest free buffer that fits, else a fresh one."""
    free = _pool("leases").setdefault((like.dtype, like.device), [])
    size = math.prod(shape)
    fits = [i for i, b in enumerate(free) if b.numel() >= size]
    if fits:
        flat = free.pop(min(fits, key=lambda i: free[i].numel()))
    else:
        flat = like.new_empty(size)
    return flat, flat[:size].view(shape)


def still_ours(flats, versions) -> bool:
    """Whether no one wrote into the leased ``flats`` since their versions were recorded."""
    return all(f._version == v for f, v in zip(flats, versions))


def give_back(flats, versions) -> None:
    """Return leased buffers to this thread's pool (only those still as the lease left them,
    and each once: a retained graph's second backward gives back the same buffers)."""
    for flat, version in zip(flats, versions):
        if flat._version != version:
            continue
        free = _pool("leases").setdefault((flat.dtype, flat.device), [])
        if any(b is flat for b in free):
            continue
        free.append(flat)
        if len(free) > KEEP:  # (list.remove would compare tensors with ==)
            free.pop(min(range(len(free)), key=lambda i: free[i].numel()))
