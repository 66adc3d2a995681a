"""Monotone rational-quadratic splines (Durkan et al. 2019), elementwise and batched.

One function, :func:`rq_spline`, serves both the per-node Pyro path (through
:class:`RQSplineTransform`, a bijective ``torch`` transform that ``TransformedDistribution``
and :func:`causalppl.noise.noise_model` invert exactly) and the stacked fast path, so the
two can never disagree.

The spline maps ``[-bound, bound]`` onto itself with ``K`` bins and is the identity outside
(linear tails with slope 1, so the derivative is continuous at the boundary).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import constraints
from torch.distributions.transforms import Transform

__all__ = ["RQSplineTransform", "rq_spline", "spline_param_count"]

MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3
# softplus(0 + _UNIT) == 1: zero raw parameters give slope 1 at every knot, so a spline with
# zero raw parameters (equal bins, unit slopes) is exactly the identity.
_UNIT = math.log(math.expm1(1.0 - MIN_DERIVATIVE))


def spline_param_count(bins: int) -> int:
    """Raw parameters per element: ``bins`` widths, ``bins`` heights, ``bins - 1`` slopes."""
    return 3 * bins - 1


def _knots(raw: torch.Tensor, bins: int, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Knot positions ``[..., K+1]`` on ``[-bound, bound]`` and bin sizes ``[..., K]``."""
    size = MIN_BIN + (1 - MIN_BIN * bins) * torch.softmax(raw, -1)
    knots = F.pad(torch.cumsum(size, -1), (1, 0))
    knots = 2 * bound * knots - bound
    # Exact ends, whatever the rounding of the cumulative sum.
    knots = torch.cat(
        [
            knots.new_full(knots.shape[:-1] + (1,), -bound),
            knots[..., 1:-1],
            knots.new_full(knots.shape[:-1] + (1,), bound),
        ],
        -1,
    )
    return knots, knots[..., 1:] - knots[..., :-1]


def rq_spline(
    x: torch.Tensor, params: torch.Tensor, bound: float, inverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the spline (or its inverse) elementwise.

    Args:
        x: inputs ``[...]``.
        params: raw parameters ``[..., 3K-1]`` (widths, heights, interior slopes),
            broadcasting against ``x``.
        bound: the spline acts on ``[-bound, bound]``; identity outside.
        inverse: apply the inverse map.

    Returns:
        ``(y, log |dy/dx|)`` with the broadcast shape; for ``inverse=True`` the log-det is
        that of the inverse map.

    Example:
        >>> x = torch.linspace(-5, 5, 11)
        >>> params = torch.randn(11, spline_param_count(4))
        >>> y, ld = rq_spline(x, params, bound=3.0)
        >>> back, ild = rq_spline(y, params, bound=3.0, inverse=True)
        >>> bool(torch.allclose(back, x, atol=1e-5)), bool(torch.allclose(ld, -ild, atol=1e-5))
        (True, True)
    """
    bins = (params.shape[-1] + 1) // 3
    shape = torch.broadcast_shapes(x.shape, params.shape[:-1])
    x = x.expand(shape)
    params = params.expand(shape + params.shape[-1:])
    raw_w, raw_h, raw_d = params[..., :bins], params[..., bins : 2 * bins], params[..., 2 * bins :]
    cw, widths = _knots(raw_w, bins, bound)
    ch, heights = _knots(raw_h, bins, bound)
    slopes = MIN_DERIVATIVE + F.softplus(raw_d + _UNIT)
    one = slopes.new_ones(slopes.shape[:-1] + (1,))
    slopes = torch.cat([one, slopes, one], -1)

    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound)
    edges = ch if inverse else cw
    # Bin k holds edges[k] <= x < edges[k+1]; searchsorted over the interior edges.
    k = torch.searchsorted(edges[..., 1:-1].contiguous(), xc.unsqueeze(-1).contiguous(), right=True)
    pick = lambda t: t.gather(-1, k).squeeze(-1)  # noqa: E731
    x_k, w_k, y_k, h_k = pick(cw), pick(widths), pick(ch), pick(heights)
    d_k, d_k1 = pick(slopes[..., :-1]), pick(slopes[..., 1:])
    s = h_k / w_k
    mix = d_k1 + d_k - 2 * s
    if inverse:
        dy = xc - y_k
        a = h_k * (s - d_k) + dy * mix
        b = h_k * d_k - dy * mix
        c = -s * dy
        disc = (b * b - 4 * a * c).clamp_min(0)
        theta = (2 * c) / (-b - disc.sqrt())
        out = theta * w_k + x_k
    else:
        theta = (xc - x_k) / w_k
        t1 = theta * (1 - theta)
        out = y_k + h_k * (s * theta * theta + d_k * t1) / (s + mix * t1)
    t1 = theta * (1 - theta)
    denom = s + mix * t1
    deriv = s * s * (d_k1 * theta * theta + 2 * s * t1 + d_k * (1 - theta) ** 2) / (denom * denom)
    logdet = torch.log(deriv)
    if inverse:
        logdet = -logdet
    y = torch.where(inside, out, x)
    return y, torch.where(inside, logdet, torch.zeros_like(logdet))


class RQSplineTransform(Transform):
    """Elementwise monotone rational-quadratic spline with given (parent-dependent) params.

    Args:
        params: raw parameters ``[..., 3K-1]`` per element (e.g. an MLP of the parents).
        bound: the spline acts on ``[-bound, bound]``, identity outside.

    Example:
        >>> t = RQSplineTransform(torch.zeros(spline_param_count(8)), bound=4.0)
        >>> float(t(torch.tensor(0.7)))   # zero raw parameters: the identity
        0.7
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = +1

    def __init__(self, params: torch.Tensor, bound: float, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.params, self.bound = params, float(bound)

    def __eq__(self, other):
        return self is other

    def _call(self, x):
        return rq_spline(x, self.params, self.bound)[0]

    def _inverse(self, y):
        return rq_spline(y, self.params, self.bound, inverse=True)[0]

    def log_abs_det_jacobian(self, x, y):
        return rq_spline(x, self.params, self.bound)[1]

    def with_cache(self, cache_size=1):
        return RQSplineTransform(self.params, self.bound, cache_size=cache_size)
