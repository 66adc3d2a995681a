"""``counterfactual``: abduction, action, prediction, answered as a labeled Dataset."""

from __future__ import annotations

from collections.abc import Mapping

import pyro
import xarray as xr

from .. import checks
from ..errors import EvidenceError
from ..handlers.intervention import check_actions
from ..inference.abduction import WorldRun, choose, latent_sites, solve_deterministic
from ..program import guarded, probed
from ..rng import seeded
from . import overlap
from .batched_counterfactual import batched_counterfactual
from .dispatch import paths_for
from .labels import describe_actions, layout_of, to_dataset

__all__ = ["WORLDS", "counterfactual"]

WORLDS = ["factual", "counterfactual"]


def counterfactual(
    model,
    evidence: Mapping[str, object],
    do: Mapping[str, object],
    *,
    num_samples: int = 1000,
    seed: int | None = None,
    abduction: str = "auto",
    guide=None,
    num_particles: int | None = None,
    svi_steps: int | None = None,
    svi_lr: float | None = None,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> xr.Dataset:
    """What would have happened to the observed unit(s) under ``do``?

    Abduction recovers each unit's exogenous noise from ``evidence`` (and from any site the
    program observes itself), action applies ``do`` in a counterfactual world, prediction
    pushes the same noise through both worlds
    (:class:`~causalppl.handlers.TwinWorldMessenger`).

    Abduction is ``"exact"`` when every noise the evidence informs is recovered by inverting
    an observed mechanism (or drawn from its exact Gumbel-max posterior; an observed
    ``pyro.deterministic`` site pins down its one latent input by Newton's method);
    otherwise the unobserved noise is inferred: ``"importance"`` (likelihood weighting with
    the prior as proposal, resampled per unit; the default fallback) or ``"svi"`` (a Gaussian
    guide over the noise, with its final ELBO and trend in ``attrs``). ``"auto"`` picks exact
    when possible. A model with batched paths (a :class:`~causalppl.NeuralSCM`) answers
    fully observed units in batched form.

    Args:
        model: a Pyro program describing one unit.
        evidence: ``{site: value}``; a leading batch dim of size n gives n units.
        do: ``{site: value or callable}`` applied in the counterfactual world.
        num_samples: posterior samples per unit.
        seed: seeds torch inside the call only; ``None`` (default) draws fresh randomness.
        abduction: ``"auto" | "exact" | "importance" | "svi" | "amortized"``.
        guide: an amortised guide for the latent sites (``"amortized"`` abduction).
        num_particles: importance-sampling particles per unit (default ``max(20 * num_samples, 2000)``).
        svi_steps, svi_lr: SVI settings (defaults 1000 and 0.05).
        model_args, model_kwargs: arguments the program is called with.

    Returns:
        Dataset with dims ``("world", "sample"[, "unit"], ...)``, world coords
        ``["factual", "counterfactual"]``; ``attrs["abduction"]`` names the method used and
        ``attrs["extrapolation_<site>"]`` the overlap of each intervened site with parents.

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
    checks.model(model)
    evidence = checks.mapping(evidence, "evidence")
    do = check_actions(do, "do")
    num_samples = checks.positive_int(num_samples, "num_samples")
    checks.seed(seed)
    abduction = checks.choice(abduction, "abduction", ("auto", "exact", "importance", "svi", "amortized"))
    model_args, model_kwargs = checks.model_arguments(model_args, model_kwargs)
    options = {
        k: v
        for k, v in (("num_particles", num_particles), ("svi_steps", svi_steps), ("svi_lr", svi_lr))
        if v is not None
    }
    attrs = dict(
        query="counterfactual", do=describe_actions(do), evidence=",".join(evidence), seed=-1 if seed is None else seed
    )
    paths = paths_for(model, model_args, model_kwargs) if abduction in ("auto", "exact") and guide is None else None
    if paths is not None and set(evidence) == set(paths.names):
        found = batched_counterfactual(paths, evidence, do, num_samples, seed, attrs)
        if found is not None:
            return found

    def query(info):
        with seeded(seed):
            return _answer(info, model, evidence, do, num_samples, abduction, guide, options, model_args, model_kwargs)

    values, info, lead, found, flags = probed(model, model_args, model_kwargs, query)
    attrs.update(found)
    overlap.report(overlap.fractions(flags, lambda s: bool(info.parents[s])), attrs, f"do({', '.join(do)})")
    return to_dataset(values, layout_of(info, values), lead, coords={"world": WORLDS}, attrs=attrs)


def _answer(info, model, evidence, do, num_samples, abduction, guide, options, model_args, model_kwargs):
    info.check_names(evidence, "evidence")
    info.check_names(do, "intervention")
    info.check_not_observed(evidence, "evidence")
    placed, units = _place_all(info, evidence, "evidence")
    actions, action_units = _place_all(info, do, "intervention")
    units = _same_units(units | action_units)
    unit_dim = info.first_free_dim if units else None
    sample_dim = info.first_free_dim - (1 if units else 0)
    program = guarded(_with_units(model, units, unit_dim, model_args, model_kwargs))
    latent = latent_sites(info, set(placed))
    if latent and guide is None:
        solved = solve_deterministic(program, info, placed, latent)
        if solved:
            placed = {**placed, **solved}
            latent = latent_sites(info, set(placed))
    method = choose(abduction, latent, guide, **options)
    run = WorldRun(program, info, placed, actions, sample_dim, sample_dim - 1, unit_dim, units)
    values, found, tw = method.answer(run, num_samples)
    lead = [("world", run.world_dim, 2), ("sample", sample_dim, num_samples)]
    if units:
        lead.append(("unit", unit_dim, units))
    found = {**found, "abduction": method.name, "mechanisms": ";".join(f"{k}={v}" for k, v in tw.mechanisms.items())}
    flags = {site: worlds[1] for site, worlds in tw.improbable.items() if 1 in worlds}
    return values, info, lead, found, flags


def _place_all(info, values, role):
    placed, units = {}, set()
    for name, v in values.items():
        if role == "intervention" and callable(v):
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


def _with_units(model, units, unit_dim, args, kwargs):
    def program():
        if not units:
            return model(*args, **kwargs)
        with pyro.plate("unit", units, dim=unit_dim):
            return model(*args, **kwargs)

    return program
