"""Leased buffers for the activations the blocked MLP's backward reads.

A tensor above glibc's mmap threshold (at most 32 MB) is new memory from the kernel each
time, and the first write to each 4 KB page of it faults: the saved activations of 50 nets
x 4,096 rows x 64 units are 50 MB a layer. :func:`lease` hands out a free buffer from a
per-thread pool (or a fresh one) together with a *holder*; the buffers go back to the pool
when the holder is garbage, never before. The blocked MLP keeps the holder on the autograd
node that reads the buffers, so they return when that graph is gone: a graph kept for a
second backward (``retain_graph=True``) keeps its own numbers, and no version counter is
needed to tell whether a buffer was handed out again. Measured against fresh buffers
(``causalppl bench cpu_paths``, module docstring of :mod:`.blocked_mlp`): 1.42x (tanh) and
1.53x (silu) on a forward + backward at 50 nets x 4,096 rows. A pool of buffers that die
within one call was measured too (0.76x-1.21x) and deleted.

Buffers come back through a per-thread list of returns that only :func:`lease` empties,
so a return that the garbage collector runs in the middle of a lease cannot disturb it.
"""

from __future__ import annotations

import math
import threading
import weakref

import torch

__all__ = ["KEEP", "free_buffers", "lease"]

KEEP = 16  # free buffers kept per thread (a call leases up to 2 per hidden layer and piece)

_LOCAL = threading.local()


def _pool(name: str):
    return _LOCAL.__dict__.setdefault(name, [] if name == "returns" else {})


class _Holder:
    """Holds leased buffers: when it is garbage, they go back to the pool they came from."""

    flats: list[torch.Tensor]


def lease(like: torch.Tensor, shapes) -> tuple[_Holder, list[torch.Tensor]]:
    """Buffers of ``shapes`` (dtype and device of ``like``): ``(holder, views)``. Each is the
    smallest free buffer that fits, else a fresh one; all go back once ``holder`` is garbage."""
    free, flats = _settle(), []
    for shape in shapes:
        size = math.prod(shape)
        fits = [i for i, b in enumerate(free) if b.dtype == like.dtype and b.device == like.device]
        fits = [i for i in fits if free[i].numel() >= size]
        flats.append(free.pop(min(fits, key=lambda i: free[i].numel())) if fits else like.new_empty(size))
    holder = _Holder()
    holder.flats = flats  # (the finaliser holds its own references; tests read these)
    weakref.finalize(holder, _pool("returns").append, flats)
    return holder, [flat[: math.prod(shape)].view(shape) for flat, shape in zip(flats, shapes)]


def free_buffers() -> list[torch.Tensor]:
    """This thread's free buffers, after taking in those returned since the last lease."""
    return list(_settle())


def _settle() -> list[torch.Tensor]:
    """Move returned buffers to the free list; keep the :data:`KEEP` largest."""
    free, returns = _pool("leases").setdefault("free", []), _pool("returns")
    while returns:
        free.extend(returns.pop())
    if len(free) > KEEP:
        free.sort(key=lambda b: b.numel(), reverse=True)
        del free[KEEP:]
    return free
