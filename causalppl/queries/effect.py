"""``effect``: average causal effects as paired potential outcomes."""

from __future__ import annotations

from collections.abc import Mapping

import pyro

from ..errors import CausalError, UnsupportedDistributionError
from ..handlers.twin_world import TwinWorldMessenger
from ..rng import seeded
from ._program import probed
from .sample import sample

__all__ = ["effect"]


def effect(
    model,
    outcome: str,
    do: Mapping[str, object],
    baseline: Mapping[str, object] | None = None,
    *,
    num_samples: int = 10000,
    seed: int | None = 0,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> float:
    """``E[outcome | do] - E[outcome | do(baseline)]`` by Monte Carlo.

    Both arms run in one twin-world pass with the same exogenous noise (paired potential
    outcomes), so the estimate has far less variance than two independent runs; a model
    with a site that has no noise form falls back to two independent runs.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(3.0 * x, 1.0))
        >>> round(cp.effect(model, "y", do={"x": 1.0}, baseline={"x": 0.0}), 6)
        3.0
    """
    model_kwargs = model_kwargs or {}
    baseline = dict(baseline or {})
    def query(info):
        if outcome not in info.sites:
            raise CausalError(f"outcome {outcome!r} is not a site of the program; sites: {info.names}")
        info.check_names(do, "intervention")
        info.check_names(baseline, "intervention")
        sample_dim = info.first_free_dim
        tw = TwinWorldMessenger(do, dim=sample_dim - 1, factual_actions=baseline)
        with seeded(seed), tw, pyro.plate("sample", num_samples, dim=sample_dim):
            model(*model_args, **model_kwargs)
        info.confirm(tw.sites)
        y = tw.sites[outcome]["value"].double()
        world = sample_dim - 1 - len(info.event_shape(outcome))
        return float((y.narrow(world, 1, 1) - y.narrow(world, 0, 1)).mean().detach())

    try:
        return probed(model, model_args, model_kwargs, query)
    except UnsupportedDistributionError:
        return _unpaired(model, outcome, do, baseline, num_samples, seed, model_args, model_kwargs)


def _unpaired(model, outcome, do, baseline, num_samples, seed, model_args, model_kwargs) -> float:
    kwargs = dict(num_samples=num_samples, seed=seed, model_args=model_args, model_kwargs=model_kwargs)
    treated = sample(model, do=do, **kwargs)[outcome]
    control = sample(model, do=baseline, **kwargs)[outcome]
    return float(treated.mean() - control.mean())
