"""Conditional normalising flows: non-additive noise with exact abduction by inversion.

The site's law is a ``TransformedDistribution`` of a standard normal base through
bijections whose parameters are MLPs of the parents, so
:func:`causalppl.noise.noise_model` recovers a unit's noise exactly through the inverse.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions.transforms import LowerCholeskyAffine
from torch.distributions.transforms import AffineTransform, IndependentTransform

from .base import Mechanism
from .heads import FLOW, scale_transform
from .location_scale import LocationScale
from .spline import RQSplineTransform, spline_param_count

__all__ = ["AffineFlow", "RootFlow", "SplineFlow"]


def _base(shape: torch.Size, like: torch.Tensor, event_dims: int):
    zero = torch.zeros(shape, dtype=like.dtype, device=like.device)
    base = dist.Normal(zero, zero + 1)
    return base.to_event(event_dims) if event_dims else base


class AffineFlow(LocationScale):
    """``x = f(pa) + g(pa) * U`` written as a flow: ``TransformedDistribution(N(0,1), affine)``.

    The same law as :class:`~causalppl.mechanisms.LocationScale`, in flow form.

    Example:
        >>> mech = AffineFlow(1, hidden=(8,))
        >>> type(mech(torch.zeros(3, 1))).__name__
        'TransformedDistribution'
    """

    def distribution(self, raw, loc=0.0, scale=1.0):
        shift, mult = self.shift_and_scale(raw, loc, scale)
        ev = 0 if self.dim is None else 1
        shape = torch.broadcast_shapes(shift.shape, mult.shape)
        return dist.TransformedDistribution(_base(shape, shift, ev), [AffineTransform(shift, mult, event_dim=ev)])


class SplineFlow(Mechanism):
    """Conditional rational-quadratic spline flow (Durkan et al. 2019).

    ``x = f(pa) + g(pa) * S_pa(U)`` with ``U ~ Normal(0, 1)`` and ``S_pa`` a monotone
    spline on ``[-bound, bound]`` (identity outside) whose knots are MLP outputs: any
    continuous conditional law with a smooth, positive density, so ``x = h(pa, U)`` need
    not be additive (``y = x * U`` is one). Vector nodes (``dim=d``) transform each
    element by its own spline, then mix elements with a learnable unit lower-triangular
    matrix (volume-preserving) before the affine step, so elements may be dependent.

    Args:
        bins: spline bins ``K`` (``3K - 1`` raw parameters per element).
        bound: half-width of the spline's domain, in model units.

    Example:
        >>> torch.manual_seed(0)
        <torch._C.Generator object at ...>
        >>> mech = SplineFlow(2, bins=4, hidden=(16,))
        >>> from causalppl.noise import noise_model
        >>> d = mech(torch.randn(6, 2))
        >>> x = d.sample()
        >>> nm = noise_model(d)
        >>> bool(torch.allclose(nm.push(nm.abduct(x)), x))
        True
    """

    kind = FLOW

    def __init__(self, in_features: int, *, bins: int = 8, bound: float = 4.0, dim=None, **kwargs):
        self.__dict__.update(bins=int(bins), bound=float(bound))
        super().__init__(in_features, dim=dim, **kwargs)
        if self.elements > 1:
            self.mix = torch.nn.Parameter(torch.zeros(self.elements * (self.elements - 1) // 2))

    @property
    def width(self) -> int:
        return 2 + spline_param_count(self.bins)

    def mixing(self) -> torch.Tensor:
        """The unit lower-triangular ``[d, d]`` matrix that mixes a vector node's elements."""
        d = self.elements
        rows, cols = torch.tril_indices(d, d, -1)
        mix = self.mix
        eye = torch.eye(d, dtype=mix.dtype, device=mix.device)
        return eye.index_put((rows, cols), mix)

    def distribution(self, raw, loc=0.0, scale=1.0):
        out = self.split(raw)
        shift = loc + scale * out[..., 0]
        mult = scale * scale_transform(out[..., 1])
        spline = RQSplineTransform(out[..., 2:], self.bound)
        shape = torch.broadcast_shapes(shift.shape, mult.shape, out.shape[:-1])
        if self.dim is None:
            return dist.TransformedDistribution(_base(shape, shift, 0), [spline, AffineTransform(shift, mult)])
        d = self.elements
        transforms = [IndependentTransform(spline, 1)]
        if d > 1:
            transforms.append(LowerCholeskyAffine(shift.new_zeros(d), self.mixing()))
        transforms.append(AffineTransform(shift, mult, event_dim=1))
        return dist.TransformedDistribution(_base(shape, shift, 1), transforms)


class RootFlow(SplineFlow):
    """A learnable marginal for a root node: a spline flow with no parents.

    Example:
        >>> root = RootFlow(bins=4)
        >>> d = root()
        >>> tuple(d.batch_shape), type(d).__name__
        ((), 'TransformedDistribution')
    """

    def __init__(self, *, bins: int = 8, bound: float = 4.0, dim=None, **kwargs):
        kwargs.setdefault("hidden", ())
        super().__init__(0, bins=bins, bound=bound, dim=dim, **kwargs)
