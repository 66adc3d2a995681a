"""Whether a value is improbable under a site's own law: the overlap (positivity) criterion.

An intervention ``do(h = v)`` asks about units whose parents, under the site's own law,
almost never produce ``v``: a fitted model answers there by extrapolation. A value is
*improbable* for a unit when the noise it would take to produce it is in the outer 1% of
the noise law (its log-density below the noise's 1st percentile; for a symmetric unimodal
noise, outside the central 99% interval of the site's law given the parents), or, for a
discrete law, when its probability is below 1%.

Example:
    >>> import torch, pyro.distributions as dist
    >>> law = dist.Normal(torch.tensor([0.0, 0.0]), 1.0)
    >>> improbable(law, torch.tensor([1.0, 3.0]), "h").tolist()
    [False, True]
"""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch

from ..errors import CausalError
from .registry import noise_model

__all__ = ["LEVEL", "improbable", "improbable_noise"]

LEVEL = 0.01
"""The share of the law's own draws that count as improbable."""

_DRAWS = 200_000


def improbable(fn, value: torch.Tensor, site: str = "?") -> torch.Tensor | None:
    """Bool tensor over ``fn``'s batch dims: where ``value`` is improbable under ``fn``.

    ``None`` when the law has no noise form that can say so (a deterministic site, or a
    mechanism that cannot be inverted).
    """
    if fn.support.is_discrete:
        return fn.log_prob(value) < math.log(LEVEL)
    try:
        nm = noise_model(fn, site)
        if nm.deterministic or not nm.invertible:
            return None
        u = nm.abduct(value)
    except CausalError:
        return None
    event = len(nm.noise_event_shape)
    prior = nm.noise_dist(u.shape[: u.dim() - event])
    outside = ~prior.support.check(u)  # noise the prior never draws: as improbable as it gets
    if bool(outside.any()):
        u = torch.where(outside.reshape(outside.shape + (1,) * (u.dim() - outside.dim())), prior.sample(), u)
    return outside | (prior.log_prob(u) < _threshold(nm.noise_dist(torch.Size())))


def improbable_noise(u: torch.Tensor) -> torch.Tensor:
    """:func:`improbable` for standard normal noise ``u`` already abducted (elementwise)."""
    zero = torch.zeros((), dtype=u.dtype, device=u.device)
    prior = dist.Normal(zero, zero + 1)
    return prior.log_prob(u) < _threshold(prior)


def _threshold(prior) -> float:
    key = (repr(prior), tuple(prior.event_shape))
    found = _THRESHOLDS.get(key)
    if found is None:
        # Monte Carlo from a private seed, so the answer is the same in every run and the
        # caller's random stream is untouched.
        with torch.random.fork_rng():
            torch.manual_seed(0)
            lp = prior.log_prob(prior.sample((_DRAWS,))).double()
        found = _THRESHOLDS[key] = float(torch.quantile(lp, LEVEL))
    return found


_THRESHOLDS: dict = {}
