"""Dispatch from a distribution to its noise model."""

from __future__ import annotations

import pyro.distributions as dist
import torch
import torch.distributions as tdist
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution

from ..errors import UnsupportedDistributionError
from .models import (
    DeltaNoise,
    GumbelMaxNoise,
    IndependentNoise,
    LocScaleNoise,
    MultivariateNormalNoise,
    NoiseModel,
    QuantileNoise,
    TransformedNoise,
)

__all__ = ["noise_model"]


def _standard(fn: tdist.Distribution) -> tdist.Distribution:
    """The member of ``fn``'s location-scale family with loc 0 and scale 1."""
    zero = torch.zeros((), dtype=fn.loc.dtype, device=fn.loc.device)
    one = zero + 1
    if isinstance(fn, tdist.StudentT):
        return dist.StudentT(fn.df, zero, one)
    return type(fn)(zero, one) if type(fn).__module__.startswith("pyro") else _PYRO_TWIN[type(fn)](zero, one)


# Families whose ``(loc, scale)`` parameters make them x = loc + scale * u.
_LOC_SCALE = (
    tdist.Normal, tdist.Laplace, tdist.Cauchy, tdist.Gumbel, tdist.StudentT, dist.Logistic, dist.SoftLaplace
)
_PYRO_TWIN = {
    tdist.Normal: dist.Normal, tdist.Laplace: dist.Laplace, tdist.Cauchy: dist.Cauchy, tdist.Gumbel: dist.Gumbel
}


def noise_model(fn: tdist.Distribution, site: str = "?") -> NoiseModel:
    """The exogenous-noise form of ``fn``.

    Args:
        fn: a site's distribution.
        site: the site's name, for error messages.

    Raises:
        UnsupportedDistributionError: a discrete law other than Bernoulli / Categorical /
            OneHotCategorical, or a continuous law with no known noise form.

    Example:
        >>> import pyro.distributions as dist
        >>> nm = noise_model(dist.Normal(torch.tensor(1.0), 2.0))
        >>> float(nm.push(torch.tensor(0.5))), float(nm.abduct(torch.tensor(2.0)))
        (2.0, 0.5)
        >>> noise_model(dist.Bernoulli(0.3)).describe()
        'GumbelMax(bernoulli)'
    """
    if isinstance(fn, (MaskedDistribution, ExpandedDistribution)):
        return _rebind(noise_model(fn.base_dist, site), fn)
    if isinstance(fn, tdist.Independent):
        return IndependentNoise(fn, noise_model(fn.base_dist, site), fn.reinterpreted_batch_ndims)
    if isinstance(fn, dist.Delta):
        return DeltaNoise(fn, fn.v)
    if isinstance(fn, _LOC_SCALE):
        return LocScaleNoise(fn, fn.loc, fn.scale, lambda: _standard(fn))
    if isinstance(fn, tdist.Uniform):
        zero = torch.zeros((), dtype=fn.low.dtype)
        return LocScaleNoise(fn, fn.low, fn.high - fn.low, lambda: dist.Uniform(zero, zero + 1))
    if isinstance(fn, tdist.MultivariateNormal):
        return MultivariateNormalNoise(fn)
    if isinstance(fn, tdist.Bernoulli):
        logits = torch.stack([torch.zeros_like(fn.logits), fn.logits], -1)
        return GumbelMaxNoise(fn, logits, "bernoulli")
    if isinstance(fn, tdist.OneHotCategorical):
        return GumbelMaxNoise(fn, fn.logits, "one_hot")
    if isinstance(fn, tdist.Categorical):
        return GumbelMaxNoise(fn, fn.logits, "categorical")
    if isinstance(fn, tdist.TransformedDistribution):
        if all(t.bijective for t in fn.transforms):
            return TransformedNoise(fn, noise_model(fn.base_dist, site), fn.transforms)
        if _has_icdf(fn):
            return QuantileNoise(fn)
        return TransformedNoise(
            fn,
            noise_model(fn.base_dist, site),
            fn.transforms,
            f"site {site!r} has a non-invertible mechanism ({type(fn).__name__} with "
            f"{[type(t).__name__ for t in fn.transforms if not t.bijective]}): its noise "
            "cannot be recovered from an observed value",
        )
    if fn.support.is_discrete:
        raise UnsupportedDistributionError(
            f"discrete site {site!r} has distribution {type(fn).__name__}; counterfactuals "
            "support discrete sites through the Gumbel-max SCM: Bernoulli, Categorical, "
            "OneHotCategorical"
        )
    if len(fn.event_shape) == 0 and _has_icdf(fn):
        return QuantileNoise(fn)
    raise UnsupportedDistributionError(
        f"site {site!r} has distribution {type(fn).__name__}, which has no known exogenous-noise "
        "form (location-scale, transformed/flow, quantile, Delta or Gumbel-max); write it as a "
        "TransformedDistribution of a standard base to make it counterfactual-ready"
    )


def _has_icdf(fn) -> bool:
    try:
        probe = torch.full(fn.batch_shape + fn.event_shape, 0.5, dtype=torch.get_default_dtype())
        fn.icdf(probe)
        fn.cdf(fn.icdf(probe))
    except (NotImplementedError, AttributeError, TypeError, RuntimeError):
        return False
    return True


def _rebind(nm: NoiseModel, fn) -> NoiseModel:
    """Keep the inner mechanism but report the wrapper as the site's distribution."""
    nm.fn_outer = fn
    return nm
