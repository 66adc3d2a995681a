"""``effect``: average causal effects as paired potential outcomes."""

from __future__ import annotations

from collections.abc import Mapping

import pyro
import torch

from .. import checks
from ..errors import CausalError, UnsupportedDistributionError
from ..handlers.intervention import check_actions
from ..handlers.twin_world import PairedWorldsMessenger
from ..program import guarded, probed
from ..rng import seeded
from . import overlap
from .dispatch import check_one_value, paths_for, place_values
from .sample import sample

__all__ = ["effect"]


def effect(
    model,
    outcome: str,
    do: Mapping[str, object],
    baseline: Mapping[str, object] | None = None,
    *,
    num_samples: int = 10000,
    seed: int | None = None,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> float:
    """``E[outcome | do] - E[outcome | do(baseline)]`` by Monte Carlo.

    Both arms run in one pass with the same exogenous noise (paired potential outcomes,
    :class:`~causalppl.handlers.PairedWorldsMessenger`), so the estimate has far less
    variance than two independent runs; a model with a site that has no noise form falls
    back to two independent runs. The outcome must be one number per unit: a site with
    event dims, or inside a plate of the model, raises (select the number you mean in the
    model, e.g. with a ``pyro.deterministic`` site). Intervening where the site's own law
    almost never goes warns with a :class:`causalppl.CausalWarning`.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(3.0 * x, 1.0))
        >>> round(cp.effect(model, "y", do={"x": 1.0}, baseline={"x": 0.0}), 6)
        3.0
    """
    checks.model(model)
    if not isinstance(outcome, str):
        raise CausalError(f"outcome must be a site name, got {outcome!r}")
    do, baseline = check_actions(do, "do"), check_actions(baseline, "baseline")
    num_samples = checks.positive_int(num_samples, "num_samples")
    checks.seed(seed)
    model_args, model_kwargs = checks.model_arguments(model_args, model_kwargs)
    paths = paths_for(model, model_args, model_kwargs)
    if paths is not None:
        for arm in (do, baseline):
            check_one_value(arm, lambda n: paths.prototype(n).batch_shape + paths.prototype(n).event_shape, "cp.effect")
        found = _batched(paths, outcome, do, baseline, num_samples, seed)
        if found is not None:
            return found

    def query(info):
        _check_outcome(
            outcome,
            info.names,
            len(info.event_shape(outcome)) if outcome in info.sites else 0,
            info.frames(outcome) if outcome in info.sites else {},
        )
        info.check_names(do, "intervention")
        info.check_names(baseline, "intervention")
        for arm in (do, baseline):
            check_one_value(arm, info.shape, "cp.effect")
        sample_dim = info.first_free_dim
        worlds = PairedWorldsMessenger(do, baseline, dim=sample_dim - 1)
        with seeded(seed), torch.no_grad(), worlds, pyro.plate("sample", num_samples, dim=sample_dim):
            guarded(model)(*model_args, **model_kwargs)
        info.confirm(worlds.sites)
        y = worlds.sites[outcome]["value"].double()
        value = float((y.narrow(sample_dim - 1, 1, 1) - y.narrow(sample_dim - 1, 0, 1)).mean().detach())
        return value, info, worlds.improbable

    try:
        value, info, flags = probed(model, model_args, model_kwargs, query)
    except UnsupportedDistributionError:
        return _unpaired(model, outcome, do, baseline, num_samples, seed, model_args, model_kwargs)
    for world, arm in ((1, "do"), (0, "baseline")):
        arm_flags = {site: w[world] for site, w in flags.items() if world in w}
        overlap.report(overlap.fractions(arm_flags, lambda s: bool(info.parents[s])), None, f"the {arm} arm")
    return value


def _check_outcome(outcome, names, event_rank, frames):
    if outcome not in names:
        raise CausalError(f"outcome {outcome!r} is not a site of the program; sites: {names}")
    if event_rank or frames:
        where = f"has {event_rank} event dim(s)" if event_rank else f"sits in plate(s) {sorted(frames.values())}"
        raise CausalError(
            f"outcome {outcome!r} {where}: cp.effect averages one number per unit; select the number "
            "you mean in the model (e.g. a pyro.deterministic site), or use cp.sample and average"
        )


def _batched(paths, outcome, do, baseline, num_samples, seed):
    _check_outcome(outcome, paths.names, len(paths.prototype(outcome).event_shape), {})
    treated, _ = place_values(paths, do, "intervention")
    control, _ = place_values(paths, baseline, "intervention")
    with seeded(seed), torch.no_grad():
        noise = paths.draw_noise(num_samples)
        arms = paths.push(noise, treated), paths.push(noise, control)
    if arms[0] is None or arms[1] is None:
        return None
    for (_, flags), arm in zip(arms, ("do", "baseline")):
        overlap.report(overlap.fractions(flags, lambda s: bool(paths.parents(s))), None, f"the {arm} arm")
    return float((arms[0][0][outcome].double() - arms[1][0][outcome].double()).mean().detach())


def _unpaired(model, outcome, do, baseline, num_samples, seed, model_args, model_kwargs) -> float:
    """Two interventional runs; one seed for both (common random numbers: where both arms draw
    the same way, their noise is shared, as it would be in paired worlds)."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, ()))
    kwargs = dict(num_samples=num_samples, seed=seed, model_args=model_args, model_kwargs=model_kwargs)
    treated = sample(model, do=do, **kwargs)[outcome]
    control = sample(model, do=baseline, **kwargs)[outcome]
    return float(treated.mean() - control.mean())
