"""Seeding: a query's ``seed`` makes it reproducible without touching the caller's RNG.

``seed=None`` (every query's default, as in Pyro) draws fresh randomness from torch's
global generator, so a loop of calls gives independent draws; an int seeds torch inside
the call only and restores the caller's generator state afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from . import checks

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int | None):
    """Seed torch's RNG inside the block without disturbing the caller's RNG state.

    Example:
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> bool(torch.equal(a, b))
        True
    """
    seed = checks.seed(seed)
    if seed is None:
        yield
        return
    with torch.random.fork_rng():
        if torch.accelerator.is_available():
            torch.manual_seed(seed)
        else:  # the CPU generator alone: skips queueing lazy seeds for absent accelerators
            torch.default_generator.manual_seed(seed)
        yield
