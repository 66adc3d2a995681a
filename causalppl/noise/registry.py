"""The open registry from a distribution type to its noise form.

:func:`noise_model` dispatches on the type of a site's distribution (most specific class
first, as :func:`functools.singledispatch` does), so a user's own distribution declares
its structural-equation form with :func:`register` and gets exact counterfactuals from
every query:

Example:
    A user's own law, ``x = loc + scale * sinh(u)`` with ``u ~ Normal(0, 1)`` (skewed,
    heavy-tailed), declares its noise form once; counterfactuals are then exact:

    >>> import torch, pyro, pyro.distributions as dist
    >>> from torch.distributions import constraints
    >>> import causalppl as cp
    >>> from causalppl.noise import NoiseModel, register
    >>> class SinhNormal(dist.TorchDistribution):
    ...     arg_constraints, support = {}, constraints.real
    ...     def __init__(self, loc, scale):
    ...         self.loc, self.scale = torch.broadcast_tensors(torch.as_tensor(loc), torch.as_tensor(scale))
    ...         super().__init__(self.loc.shape)
    ...     def expand(self, batch_shape, _instance=None):
    ...         return SinhNormal(self.loc.expand(batch_shape), self.scale.expand(batch_shape))
    ...     def sample(self, sample_shape=torch.Size()):
    ...         u = torch.randn(sample_shape + self.batch_shape, dtype=self.loc.dtype)
    ...         return self.loc + self.scale * torch.sinh(u)
    ...     def log_prob(self, x):
    ...         z = (x - self.loc) / self.scale
    ...         return dist.Normal(0.0, 1.0).log_prob(torch.asinh(z)) - torch.log(self.scale) - 0.5 * torch.log1p(z * z)
    >>> @register(SinhNormal)
    ... class SinhNoise(NoiseModel):
    ...     def __init__(self, fn, site):
    ...         super().__init__(fn)
    ...     def noise_dist(self, batch_shape):
    ...         return dist.Normal(0.0, 1.0).expand(batch_shape)
    ...     def push(self, u):
    ...         return self.fn.loc + self.fn.scale * torch.sinh(u)
    ...     def abduct(self, x):
    ...         return torch.asinh((x - self.fn.loc) / self.fn.scale)
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     return pyro.sample("y", SinhNormal(2.0 * x, 0.5))
    >>> cf = cp.counterfactual(model, {"x": 1.0, "y": 2.5}, {"x": 0.0}, num_samples=1)
    >>> cf.attrs["abduction"], round(cf.y.sel(world="counterfactual").item(), 6)  # 0.5 sinh(asinh(1))
    ('exact', 0.5)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyro.distributions as dist
import torch
import torch.distributions as tdist
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution

from ..errors import CausalError, UnsupportedDistributionError
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

__all__ = ["noise_model", "register", "registered"]

Factory = Callable[[tdist.Distribution, str], NoiseModel]


@functools.singledispatch
def _dispatch(fn: tdist.Distribution, site: str) -> NoiseModel:
    """No registered form: a univariate law with a quantile function is monotone in its noise."""
    if fn.support.is_discrete:
        raise UnsupportedDistributionError(
            f"discrete site {site!r} has distribution {type(fn).__name__}; counterfactuals "
            "support discrete sites through the Gumbel-max SCM: Bernoulli, Categorical, "
            "OneHotCategorical (or register a noise form with causalppl.noise.register)"
        )
    if len(fn.event_shape) == 0 and _has_icdf(fn):
        return QuantileNoise(fn)
    raise UnsupportedDistributionError(
        f"site {site!r} has distribution {type(fn).__name__}, which has no known exogenous-noise "
        "form (location-scale, transformed/flow, quantile, Delta or Gumbel-max); write it as a "
        "TransformedDistribution of a standard base, or register one with causalppl.noise.register"
    )


def register(dist_type: type) -> Callable[[Factory], Factory]:
    """Declare the noise form of ``dist_type`` (and its subclasses without a form of their own).

    The decorated factory takes ``(fn, site)`` (the site's distribution and its name, for
    messages) and returns a :class:`~causalppl.noise.NoiseModel`: how the site's value is
    pushed out of parent-free noise (``push``), how the noise is recovered from a value
    (``abduct``) and the noise's prior (``noise_dist``). Registering a type again replaces
    its form. The invariant suite in ``tests/noise`` checks every registered form.

    Example:
        >>> from causalppl.noise import registered
        >>> tdist.Normal in registered()
        True
    """
    if not isinstance(dist_type, type) or not issubclass(dist_type, tdist.Distribution):
        raise CausalError(f"register takes a torch Distribution subclass, got {dist_type!r}")

    def decorate(factory: Factory) -> Factory:
        if not callable(factory):
            raise CausalError(f"the noise form of {dist_type.__name__} must be a callable (fn, site) -> NoiseModel")
        _dispatch.register(dist_type)(factory)
        return factory

    return decorate


def registered() -> list[type]:
    """The distribution types with a registered noise form."""
    return [t for t in _dispatch.registry if t is not object]


def noise_model(fn: tdist.Distribution, site: str = "?") -> NoiseModel:
    """The exogenous-noise form of ``fn``.

    Args:
        fn: a site's distribution.
        site: the site's name, for error messages.

    Raises:
        UnsupportedDistributionError: no registered form, and no quantile function.

    Example:
        >>> nm = noise_model(dist.Normal(torch.tensor(1.0), 2.0))
        >>> float(nm.push(torch.tensor(0.5))), float(nm.abduct(torch.tensor(2.0)))
        (2.0, 0.5)
        >>> noise_model(dist.Bernoulli(0.3)).describe()
        'GumbelMax(bernoulli)'
    """
    nm = _dispatch(fn, site)
    if not isinstance(nm, NoiseModel):
        raise CausalError(
            f"the noise form registered for {type(fn).__name__} returned {type(nm).__name__}, "
            "not a causalppl.noise.NoiseModel"
        )
    nm.site = site
    return nm


# -- the built-in forms ------------------------------------------------------------------------
@register(MaskedDistribution)
@register(ExpandedDistribution)
def _wrapped(fn, site):
    return noise_model(fn.base_dist, site)


@register(tdist.Independent)
def _independent(fn, site):
    return IndependentNoise(fn, noise_model(fn.base_dist, site), fn.reinterpreted_batch_ndims)


@register(dist.Delta)
def _delta(fn, site):
    return DeltaNoise(fn, fn.v)


def _standard(fn) -> tdist.Distribution:
    """The member of ``fn``'s location-scale family with loc 0 and scale 1."""
    zero = torch.zeros((), dtype=fn.loc.dtype, device=fn.loc.device)
    cls = type(fn) if type(fn).__module__.startswith("pyro") else _PYRO_TWIN.get(type(fn), type(fn))
    return cls(zero, zero + 1)


_PYRO_TWIN = {
    tdist.Normal: dist.Normal,
    tdist.Laplace: dist.Laplace,
    tdist.Cauchy: dist.Cauchy,
    tdist.Gumbel: dist.Gumbel,
}


@register(tdist.Normal)
@register(tdist.Laplace)
@register(tdist.Cauchy)
@register(tdist.Gumbel)
@register(dist.Logistic)
@register(dist.SoftLaplace)
def _loc_scale(fn, site):
    return LocScaleNoise(fn, fn.loc, fn.scale, lambda: _standard(fn))


def _one_value(t) -> bool:
    """Whether a parameter takes one value for every unit (then the noise law is parent-free)."""
    if not isinstance(t, torch.Tensor) or t.numel() <= 1:
        return True
    flat = t.reshape(-1)
    return bool((flat == flat[0]).all())


@register(tdist.StudentT)
def _student_t(fn, site):
    # Location-scale only when the degrees of freedom are the same for every unit: a df that
    # depends on the parents makes the noise law itself parent-dependent (no shared noise).
    if not _one_value(fn.df):
        raise UnsupportedDistributionError(
            f"site {site!r} is a StudentT whose degrees of freedom differ between units (they depend on "
            "its parents), so its noise has no parent-free law and counterfactuals cannot share it; write "
            "it as a TransformedDistribution of a standard base"
        )
    df = fn.df.reshape(-1)[0] if isinstance(fn.df, torch.Tensor) else fn.df
    zero = torch.zeros((), dtype=fn.loc.dtype, device=fn.loc.device)
    return LocScaleNoise(fn, fn.loc, fn.scale, lambda: dist.StudentT(df, zero, zero + 1))


@register(tdist.Uniform)
def _uniform(fn, site):
    zero = torch.zeros((), dtype=fn.low.dtype, device=fn.low.device)
    return LocScaleNoise(fn, fn.low, fn.high - fn.low, lambda: dist.Uniform(zero, zero + 1))


@register(tdist.Gamma)
def _gamma(fn, site):
    # Gamma(k, rate) = Gamma(k, 1) / rate: a scale family while the shape k is shared.
    if not _one_value(fn.concentration):
        raise UnsupportedDistributionError(
            f"site {site!r} is a Gamma whose concentration differs between units (it depends on its "
            "parents), so its noise has no parent-free law; write it as a TransformedDistribution"
        )
    k = fn.concentration.reshape(-1)[0]
    zero = torch.zeros((), dtype=fn.rate.dtype, device=fn.rate.device)
    return LocScaleNoise(fn, zero, 1 / fn.rate, lambda: dist.Gamma(k, zero + 1))


@register(tdist.MultivariateNormal)
def _mvn(fn, site):
    return MultivariateNormalNoise(fn)


@register(tdist.Bernoulli)
def _bernoulli(fn, site):
    return GumbelMaxNoise(fn, torch.stack([torch.zeros_like(fn.logits), fn.logits], -1), "bernoulli")


@register(tdist.OneHotCategorical)
def _one_hot(fn, site):
    return GumbelMaxNoise(fn, fn.logits, "one_hot")


@register(tdist.Categorical)
def _categorical(fn, site):
    return GumbelMaxNoise(fn, fn.logits, "categorical")


@register(tdist.TransformedDistribution)
def _transformed(fn, site):
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


def _has_icdf(fn) -> bool:
    try:
        probe = torch.full(fn.batch_shape + fn.event_shape, 0.5, dtype=torch.get_default_dtype())
        fn.icdf(probe)
        fn.cdf(fn.icdf(probe))
    except (NotImplementedError, AttributeError, TypeError, RuntimeError):
        return False
    return True
