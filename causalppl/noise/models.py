"""Noise models: the structural-equation form of one site's distribution."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import pyro.distributions as dist
import torch
from torch.distributions import Distribution

from ..errors import EvidenceError, NonInvertibleError
from .gumbel import gumbel_max, truncated_gumbel_posterior

__all__ = [
    "DeltaNoise",
    "GumbelMaxNoise",
    "IndependentNoise",
    "LocScaleNoise",
    "MultivariateNormalNoise",
    "NoiseModel",
    "QuantileNoise",
    "TransformedNoise",
]


class NoiseModel:
    """``x = push(u)`` with ``u ~ noise_dist``; ``abduct`` recovers ``u`` from ``x``.

    Attributes:
        fn: the site's distribution (with its parent-dependent parameters).
        invertible: ``abduct`` is an exact inverse (or an exact posterior draw).
        deterministic: the site has no noise of its own (``Delta`` / ``pyro.deterministic``).
    """

    invertible = True
    deterministic = False
    site = "?"  # the site's name, set by :func:`~causalppl.noise.noise_model`, for messages

    def __init__(self, fn: Distribution):
        self.fn = fn

    @property
    def noise_event_shape(self) -> torch.Size:
        return self.fn.event_shape

    def noise_dist(self, batch_shape: torch.Size) -> Distribution:
        """The prior of ``u`` with the given batch shape (parameter-free)."""
        raise NotImplementedError

    def push(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def abduct(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def abduct_slice(self, x: torch.Tensor, dim: int, index: int) -> torch.Tensor:
        """``abduct(x)`` narrowed to ``index`` along the (negative) dim ``dim`` of ``x``, kept
        as a size-1 dim; a size-1 dim there stays as it is. Subclasses may skip the rest."""
        return _narrow(self.abduct(x), dim, index)

    def world_shift(self, u: torch.Tensor, dim: int, index: int) -> torch.Tensor:
        """``push(u)`` minus its slice ``index`` along ``dim`` (kept as a size-1 dim): how far
        each world's output moves from that world's for the same noise ``u``."""
        shift = self.noise_free_shift(dim, index)
        if shift is not None:
            return shift
        pushed = self.push(u)
        return pushed - _narrow(pushed, dim, index)

    def noise_free_shift(self, dim: int, index: int) -> torch.Tensor | None:
        """:meth:`world_shift` when it does not depend on the noise, else ``None``: then an
        observed site's other worlds follow from the evidence without abducting its noise."""
        return None

    def describe(self) -> str:
        return type(self).__name__


class LocScaleNoise(NoiseModel):
    """``x = loc + scale * u`` with ``u`` from the family's standard member."""

    def __init__(self, fn, loc, scale, make_standard: Callable[[], Distribution]):
        super().__init__(fn)
        self.loc, self.scale = loc, scale
        self._make_standard = make_standard

    @cached_property
    def standard(self) -> Distribution:
        """The family's loc-0 scale-1 member, built on first use (abduction never needs it)."""
        return self._make_standard()

    def noise_dist(self, batch_shape):
        return self.standard.expand(batch_shape)

    def push(self, u):
        return self.loc + self.scale * u

    def abduct(self, x):
        return (x - self.loc) / self.scale

    def abduct_slice(self, x, dim, index):
        # The slice alone: the same numbers as slicing the whole abduction, for its share of the work.
        loc, scale = self.loc, self.scale
        if (
            isinstance(loc, torch.Tensor)
            and isinstance(scale, torch.Tensor)
            and min(x.dim(), loc.dim(), scale.dim()) >= -dim
        ):
            return (_narrow(x, dim, index) - _narrow(loc, dim, index)) / _narrow(scale, dim, index)
        return super().abduct_slice(x, dim, index)

    def noise_free_shift(self, dim, index):
        # (loc - loc_i) + (scale - scale_i) u; the scale term vanishes when the scale is the
        # same in every slice (a constant, or a parameter broadcast along dim).
        loc, scale = self.loc, self.scale
        if isinstance(loc, torch.Tensor) and loc.dim() >= -dim and _same_along(scale, dim):
            return loc - _narrow(loc, dim, index)
        return None


class QuantileNoise(NoiseModel):
    """``x = F^{-1}(u)``, ``u ~ Uniform(0, 1)``: the monotone mechanism of a univariate law."""

    def noise_dist(self, batch_shape):
        dtype = _dtype_of(self.fn)
        zero = torch.zeros((), dtype=dtype)
        return dist.Uniform(zero, zero + 1).expand(batch_shape + self.fn.event_shape).to_event(len(self.fn.event_shape))

    def push(self, u):
        return self.fn.icdf(u)

    def abduct(self, x):
        return self.fn.cdf(x)


class MultivariateNormalNoise(NoiseModel):
    """``x = loc + L u`` with ``L`` the Cholesky factor and ``u ~ N(0, I)``."""

    def noise_dist(self, batch_shape):
        zero = torch.zeros((), dtype=self.fn.loc.dtype)
        return dist.Normal(zero, zero + 1).expand(batch_shape + self.fn.event_shape).to_event(1)

    def push(self, u):
        return self.fn.loc + (self.fn.scale_tril @ u.unsqueeze(-1)).squeeze(-1)

    def abduct(self, x):
        diff = (x - self.fn.loc).unsqueeze(-1)
        tril = self.fn.scale_tril.expand(diff.shape[:-2] + self.fn.scale_tril.shape[-2:])
        return torch.linalg.solve_triangular(tril, diff, upper=False).squeeze(-1)


class TransformedNoise(NoiseModel):
    """``x = T(push_base(u))`` for a bijective chain ``T`` (flows, LogNormal, ...)."""

    def __init__(self, fn, base: NoiseModel, transforms, why: str | None = None):
        super().__init__(fn)
        self.base, self.transforms = base, list(transforms)
        self.why = why  # set when a transform is not bijective: forward works, inverse does not
        self.invertible = base.invertible and why is None

    @property
    def noise_event_shape(self):
        return self.base.noise_event_shape

    def noise_dist(self, batch_shape):
        return self.base.noise_dist(batch_shape)

    def push(self, u):
        x = self.base.push(u)
        for t in self.transforms:
            x = t(x)
        return x

    def abduct(self, x):
        if self.why is not None:
            raise NonInvertibleError(self.why)
        for t in reversed(self.transforms):
            x = t.inv(x)
        return self.base.abduct(x)

    def describe(self):
        return f"Transformed({self.base.describe()})"


class IndependentNoise(NoiseModel):
    """``Independent(base, k)``: the base's noise with ``k`` batch dims read as event dims."""

    def __init__(self, fn, base: NoiseModel, ndims: int):
        super().__init__(fn)
        self.base, self.ndims = base, ndims
        self.invertible, self.deterministic = base.invertible, base.deterministic

    @property
    def noise_event_shape(self):
        return self.fn.event_shape[: self.ndims] + self.base.noise_event_shape

    def noise_dist(self, batch_shape):
        inner = self.base.noise_dist(batch_shape + self.fn.event_shape[: self.ndims])
        return inner.to_event(self.ndims)

    def push(self, u):
        return self.base.push(u)

    def abduct(self, x):
        return self.base.abduct(x)

    def abduct_slice(self, x, dim, index):
        return self.base.abduct_slice(x, dim, index)

    def noise_free_shift(self, dim, index):
        return self.base.noise_free_shift(dim, index)

    def describe(self):
        return self.base.describe()


class DeltaNoise(NoiseModel):
    """A deterministic site: ``x = v`` computed from the parents; no noise of its own."""

    deterministic = True

    def __init__(self, fn, v):
        super().__init__(fn)
        self.v = v

    @property
    def noise_event_shape(self):
        return torch.Size([0])

    def noise_dist(self, batch_shape):
        zero = torch.zeros((), dtype=self.v.dtype if self.v.is_floating_point() else torch.get_default_dtype())
        return dist.Normal(zero, zero + 1).expand(batch_shape + (0,)).to_event(1)

    def push(self, u):
        return self.v

    def abduct(self, x):
        v = self.v.expand(x.shape) if self.v.shape != x.shape else self.v
        if not torch.allclose(x.to(v.dtype), v, rtol=1e-6, atol=1e-8, equal_nan=False):
            raise EvidenceError(
                f"evidence for deterministic site {self.site!r} differs from the value its mechanism "
                "computes from its parents"
            )
        return x.new_zeros(x.shape[: x.dim() - len(self.fn.event_shape)] + (0,))


class GumbelMaxNoise(NoiseModel):
    """Discrete site through the Gumbel-max SCM (Oberst & Sontag 2019).

    ``x = argmax_k(logits_k + g_k)`` with ``g_k ~ Gumbel(0, 1)``; :meth:`abduct` draws the
    exact posterior of ``g`` given the observed category (truncated Gumbel trick).

    Args:
        kind: ``"categorical"`` (integer values), ``"bernoulli"`` (0./1. floats, logits
            ``[0, l]``) or ``"one_hot"`` (one-hot vectors).
    """

    def __init__(self, fn, logits: torch.Tensor, kind: str):
        super().__init__(fn)
        self.logits, self.kind = logits, kind

    @property
    def noise_event_shape(self):
        return self.logits.shape[-1:]

    def noise_dist(self, batch_shape):
        zero = torch.zeros((), dtype=self.logits.dtype)
        return dist.Gumbel(zero, zero + 1).expand(batch_shape + self.noise_event_shape).to_event(1)

    def push(self, u):
        k = gumbel_max(self.logits, u)
        if self.kind == "bernoulli":
            return k.to(self.logits.dtype)
        if self.kind == "one_hot":
            return torch.nn.functional.one_hot(k, self.logits.shape[-1]).to(self.logits.dtype)
        return k

    def abduct(self, x):
        if self.kind == "one_hot":
            k = x.argmax(-1)
        else:
            k = x.long()
        n = self.logits.shape[-1]
        if ((k < 0) | (k >= n)).any() or (self.kind != "one_hot" and (x != k.to(x.dtype)).any()):
            raise EvidenceError(f"evidence for site {self.site!r} is not a category in 0..{n - 1}")
        return truncated_gumbel_posterior(self.logits, k)

    def describe(self):
        return f"GumbelMax({self.kind})"


def _narrow(t: torch.Tensor, dim: int, index: int) -> torch.Tensor:
    return t.narrow(dim, index, 1) if t.shape[dim] > 1 else t


def _same_along(t, dim: int) -> bool:
    """Whether ``t`` takes one value along ``dim`` (a number, a missing or size-1 dim, or a
    dim it was broadcast along)."""
    if not isinstance(t, torch.Tensor) or t.dim() < -dim:
        return True
    return t.shape[dim] == 1 or t.stride(dim) == 0


def _dtype_of(fn) -> torch.dtype:
    try:
        return fn.mean.dtype
    except (NotImplementedError, AttributeError):
        return torch.get_default_dtype()
