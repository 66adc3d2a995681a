"""Importance abduction: prior particles weighted by the evidence's likelihood, resampled per unit."""

from __future__ import annotations

import torch

from ... import checks
from ...errors import EvidenceError
from .base import Abduction, strategy

__all__ = ["Importance", "resample"]


@strategy
class Importance(Abduction):
    """Likelihood weighting with the prior as proposal (``num_particles`` per unit, default
    ``max(20 * num_samples, 2000)``), then multinomial resampling per unit.

    Evidence a particle cannot produce (outside a support that depends on a latent parent,
    or of probability 0) gets weight zero. ``attrs["ess_min"]`` reports the smallest
    effective sample size over units.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     h = pyro.sample("h", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Uniform(h - 1.0, h + 1.0))
        >>> cf = cp.counterfactual(model, {"y": 0.5}, {"h": 0.0}, num_samples=200, seed=0)
        >>> cf.attrs["abduction"], bool((abs(cf.h.sel(world="factual") - 0.5) < 1).all())
        ('importance', True)
    """

    name = "importance"

    def answer(self, run, num_samples):
        given = self.options.get("num_particles")
        particles = checks.positive_int(given, "num_particles") if given is not None else max(20 * num_samples, 2000)
        tw = run.run(particles, weigh=True)
        lw = _weights(tw.log_weight.detach(), particles, run)
        if torch.isneginf(lw).all(0).any():
            units = torch.isneginf(lw).all(0).nonzero().flatten().tolist()
            raise EvidenceError(
                f"the evidence on {sorted(run.evidence) or sorted(run.info.observed)} has zero likelihood under every "
                f"one of {particles} particles for unit(s) {units[:10]}: it is impossible under the model, or too "
                "unlikely for prior particles (raise num_particles, or use abduction='svi')"
            )
        index, ess = resample(lw, num_samples)
        values = {
            n: _gather(tw.sites[n]["value"], index, run, len(run.info.event_shape(n))) for n in run.info.endogenous
        }
        return values, {"ess_min": float(ess.detach().min()), "num_particles": particles}, tw


def resample(log_weight: torch.Tensor, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial resampling of particles, per unit.

    Args:
        log_weight: ``[particles, units]`` log importance weights (each unit has a finite one).

    Returns:
        ``(index [num_samples, units], effective sample size [units])``.
    """
    w = torch.softmax(log_weight, 0)
    ess = 1.0 / (w**2).sum(0)
    index = torch.multinomial(w.T, num_samples, replacement=True).T
    return index, ess


def _weights(log_weight, particles, run) -> torch.Tensor:
    """``[particles, units]`` view of the accumulated log weights (other dims were summed)."""
    sizes = [1] * max(-run.sample_dim, log_weight.dim())
    sizes[run.sample_dim] = particles
    if run.unit_dim is not None:
        sizes[run.unit_dim] = run.units
    lw = log_weight + torch.zeros(sizes, dtype=log_weight.dtype if log_weight.is_floating_point() else None)
    return lw.reshape(particles, run.units or 1)


def _gather(value, index, run, event_rank):
    """Select resampled particles ``index [num_samples, units]`` along the sample dim."""
    sample_dim, unit_dim = run.sample_dim, run.unit_dim
    batch_rank = value.dim() - event_rank
    value = value.reshape((1,) * max(-sample_dim - batch_rank, 0) + tuple(value.shape))
    axis = value.dim() - event_rank + sample_dim
    if value.shape[axis] == 1:  # a site outside the sample plate (a global): nothing to pick
        return value
    shape = [1] * value.dim()
    shape[axis] = index.shape[0]
    if unit_dim is not None:
        uaxis = value.dim() - event_rank + unit_dim
        shape[uaxis] = index.shape[1]
        value = value.expand(*value.shape[:uaxis], index.shape[1], *value.shape[uaxis + 1 :])
    idx = index.reshape(shape).expand(*value.shape[:axis], index.shape[0], *value.shape[axis + 1 :])
    return torch.gather(value, axis, idx)
