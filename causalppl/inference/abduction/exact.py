"""Exact abduction: every noise the evidence informs is recovered by inverting its mechanism."""

from __future__ import annotations

from .base import Abduction, strategy

__all__ = ["Exact"]


@strategy
class Exact(Abduction):
    """Invert each observed site's mechanism (an exact posterior draw for Gumbel-max sites);
    unobserved sites without observed descendants keep their prior noise.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(2.0 * x, 1.0))
        >>> cp.counterfactual(model, {"x": 1.0, "y": 1.5}, {"x": 0.0}, num_samples=1).attrs["abduction"]
        'exact'
    """

    name = "exact"

    def answer(self, run, num_samples):
        tw = run.run(num_samples)
        return {n: tw.sites[n]["value"] for n in run.info.endogenous}, {}, tw
