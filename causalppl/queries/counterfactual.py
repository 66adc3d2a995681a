"""``counterfactual``: abduction, action, prediction, answered as a labeled Dataset."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import pyro
import torch
import xarray as xr

from ..errors import CausalError, EvidenceError, NonInvertibleError
from ..handlers.condition import condition as condition_handler
from ..handlers.twin_world import TwinWorldMessenger
from ..inference.abduction import resample, svi_noise_posterior
from ..noise import noise_model
from ..rng import seeded
from ._program import probed
from ._xr import to_dataset

__all__ = ["counterfactual", "plan_abduction"]

WORLDS = ["factual", "counterfactual"]


def plan_abduction(info, evidence: set[str]) -> list[str]:
    """Unobserved sites with noise whose posterior is not their prior (they need inference).

    Noise of an unobserved site with no observed descendant is independent of the
    evidence; every other unobserved noisy site must be inferred.
    """
    unobserved = [n for n in info.names if n not in evidence and not info.is_deterministic(n)]
    if not unobserved:
        return []  # full evidence: no need to read the graph
    return [n for n in unobserved if info.descendants(n) & evidence]


def counterfactual(
    model,
    evidence: Mapping[str, object],
    do: Mapping[str, object],
    *,
    num_samples: int = 1000,
    seed: int | None = 0,
    abduction: str = "auto",
    num_particles: int | None = None,
    svi_steps: int = 1000,
    svi_lr: float = 0.02,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> xr.Dataset:
    """What would have happened to the observed unit(s) under ``do``?

    Abduction recovers each unit's exogenous noise from ``evidence``, action applies
    ``do`` in a counterfactual world, prediction pushes the same noise through both worlds
    (:class:`~causalppl.handlers.TwinWorldMessenger`).

    Abduction is ``"exact"`` when every noise the evidence informs is recovered by
    inverting an observed mechanism (or drawn from its exact Gumbel-max posterior);
    otherwise the unobserved noise is inferred: ``"importance"`` (likelihood weighting
    with the prior as proposal, resampled per unit; the default fallback) or ``"svi"``
    (an ``AutoMultivariateNormal`` guide over the noise). ``"auto"`` picks exact when possible.

    Args:
        model: a Pyro program describing one unit.
        evidence: ``{site: value}``; a leading batch dim of size n gives n units.
        do: ``{site: value or callable}`` applied in the counterfactual world.
        num_samples: posterior samples per unit.
        seed: seeds torch inside the call only.
        abduction: ``"auto" | "exact" | "importance" | "svi"``.
        num_particles: importance-sampling particles per unit (default ``max(20 * num_samples, 2000)``).

    Returns:
        Dataset with dims ``("world", "sample"[, "unit"], ...)``, world coords
        ``["factual", "counterfactual"]``; ``attrs["abduction"]`` names the method used.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(2.0 * x, 1.0))
        >>> cf = cp.counterfactual(model, evidence={"x": 1.0, "y": 1.5}, do={"x": 0.0}, num_samples=10)
        >>> cf.attrs["abduction"], float(cf.y.sel(world="counterfactual").mean())
        ('exact', -0.5)
    """
    model_kwargs = model_kwargs or {}
    if abduction not in ("auto", "exact", "importance", "svi"):
        raise CausalError(f"abduction must be 'auto', 'exact', 'importance' or 'svi', got {abduction!r}")
    if not isinstance(evidence, Mapping) or not isinstance(do, Mapping):
        raise CausalError("evidence and do must be dicts keyed by site name")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise CausalError(f"num_samples must be a positive int, got {num_samples!r}")

    def query(info):
        with seeded(seed):
            return _counterfactual(info, model, evidence, do, num_samples, abduction, num_particles,
                                   svi_steps, svi_lr, model_args, model_kwargs)

    values, info, lead, found = probed(model, model_args, model_kwargs, query)
    attrs = dict(query="counterfactual", abduction=found.pop("abduction"), do=repr(dict(do)),
                 evidence=",".join(evidence), seed=-1 if seed is None else seed, **found)
    return to_dataset(values, info, lead, coords={"world": WORLDS}, attrs=attrs)


def _counterfactual(info, model, evidence, do, num_samples, abduction, num_particles, svi_steps, svi_lr,
                    model_args, model_kwargs):
    info.check_names(evidence, "evidence")
    info.check_names(do, "intervention")
    placed, units = _place_all(info, evidence, "evidence")
    actions, action_units = _place_all(info, do, "intervention", callables=True)
    units = _same_units(units | action_units)
    for name in evidence:
        nm = noise_model(info.sites[name]["fn"], name)
        if not nm.invertible:
            raise NonInvertibleError(getattr(nm, "why", None) or f"site {name!r} is not invertible")
    latent = plan_abduction(info, set(evidence))
    method = _choose(abduction, latent)

    unit_dim = info.first_free_dim if units else None
    sample_dim = info.first_free_dim - (1 if units else 0)
    world_dim = sample_dim - 1
    keep = (sample_dim,) + ((unit_dim,) if units else ())

    def run(num, noise=None):
        tw = TwinWorldMessenger(actions, placed, noise=noise, dim=world_dim, keep_dims=keep,
                                weigh=method == "importance", checked_evidence=True)
        # One sample needs no plate (its dim is size 1 by broadcasting): one fewer handler per site.
        sample_plate = pyro.plate("sample", num, dim=sample_dim) if num > 1 else contextlib.nullcontext()
        with tw, sample_plate:
            _with_units(model, units, unit_dim)(*model_args, **model_kwargs)
        info.confirm(tw.sites)
        return tw.sites, tw

    attrs = {}
    if method == "svi":
        conditioned = _with_units(condition_handler(model, placed), units, unit_dim)
        noise = svi_noise_posterior(
            lambda: conditioned(*model_args, **model_kwargs), latent, info,
            num_samples=num_samples, sample_dim=sample_dim, steps=svi_steps, lr=svi_lr,
        )
        trace, tw = run(num_samples, noise)
    elif method == "importance":
        particles = num_particles or max(20 * num_samples, 2000)
        trace, tw = run(particles)
        index, ess = resample(_weights(tw.log_weight, particles, units, sample_dim, unit_dim), num_samples)
        attrs["ess_min"] = float(ess.min())
    else:
        trace, tw = run(num_samples)

    values = {n: trace[n]["value"] for n in info.endogenous}
    if method == "importance":
        values = {n: _gather(v, index, sample_dim, unit_dim, len(info.event_shape(n))) for n, v in values.items()}
    lead = [("world", world_dim, 2), ("sample", sample_dim, num_samples)]
    if units:
        lead.append(("unit", unit_dim, units))
    attrs.update(abduction=method, mechanisms=";".join(f"{k}={v}" for k, v in tw.mechanisms.items()))
    return values, info, lead, attrs


def _choose(abduction: str, latent: list[str]) -> str:
    if abduction == "auto":
        return "exact" if not latent else "importance"
    if abduction == "exact" and latent:
        raise NonInvertibleError(
            f"abduction='exact' is impossible: the noise of unobserved site(s) {latent} is informed by "
            "observed descendants, so its posterior needs inference; use abduction='importance' or 'svi'"
        )
    return abduction


def _place_all(info, values, role, callables=False):
    placed, units = {}, set()
    for name, v in values.items():
        if callables and callable(v):
            placed[name] = v
            continue
        placed[name], n = info.place(name, v, role)
        if n is not None:
            units.add((name, n))
    return placed, units


def _same_units(units: set) -> int | None:
    sizes = {n for _, n in units}
    if len(sizes) > 1:
        desc = ", ".join(f"{name!r}: {n}" for name, n in sorted(units))
        raise EvidenceError(f"evidence and interventions disagree on the number of units ({desc})")
    return sizes.pop() if sizes else None


def _with_units(model, units, unit_dim):
    if not units:
        return model

    def with_units(*args, **kwargs):
        with pyro.plate("unit", units, dim=unit_dim):
            return model(*args, **kwargs)

    return with_units


def _weights(log_weight, particles, units, sample_dim, unit_dim) -> torch.Tensor:
    """``[particles, units]`` view of the accumulated log weights (other dims were summed)."""
    sizes = [1] * max(-sample_dim, log_weight.dim())
    sizes[sample_dim] = particles
    if unit_dim is not None:
        sizes[unit_dim] = units
    lw = log_weight + torch.zeros(sizes, dtype=log_weight.dtype if log_weight.is_floating_point() else None)
    return lw.reshape(particles, units or 1)


def _gather(value, index, sample_dim, unit_dim, event_rank):
    """Select resampled particles ``index [num_samples, units]`` along the sample dim."""
    batch_rank = value.dim() - event_rank
    rank = -sample_dim
    value = value.reshape((1,) * max(rank - batch_rank, 0) + tuple(value.shape))
    axis = value.dim() - event_rank + sample_dim
    if value.shape[axis] == 1:  # a site outside the sample plate (a global): nothing to pick
        return value
    shape = [1] * value.dim()
    shape[axis] = index.shape[0]
    if unit_dim is not None:
        uaxis = value.dim() - event_rank + unit_dim
        shape[uaxis] = index.shape[1]
        value = value.expand(*value.shape[:uaxis], index.shape[1], *value.shape[uaxis + 1:])
    idx = index.reshape(shape).expand(*value.shape[:axis], index.shape[0], *value.shape[axis + 1:])
    return torch.gather(value, axis, idx)
