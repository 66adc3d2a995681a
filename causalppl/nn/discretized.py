"""The discretised logistic likelihood (PixelCNN++) on ``[0, 1]`` and its exact noise form.

``bins`` levels ``c_k = k / (bins - 1)``, ``k = 0, ..., bins - 1`` (256 levels: ``k / 255``,
8-bit pixels). A pixel is a logistic variable ``y = loc + s * u`` (``s = exp(log_scale)``,
``u ~ Logistic(0, 1)``) rounded to its nearest level: level ``k`` takes
``y in [c_k - h, c_k + h)``, ``h = 1 / (2 (bins - 1))``, and the edge levels absorb the
tails (``k = 0`` takes ``y < h``, the top level ``y >= 1 - h``). So

    P(k) = sigmoid((c_k + h - loc) / s) - sigmoid((c_k - h - loc) / s)

with the first term 1 at the top level and the second 0 at the bottom one.

The noise form (registered for :func:`causalppl.noise.noise_model`) takes ``u``, the
continuous logistic variable before rounding: ``push(u)`` rounds ``loc + s * u``;
``abduct(x)`` draws ``u`` from its exact posterior given the observed level, the logistic
truncated to the level's interval, by inverse CDF (computed in the tail nearer to the
interval, in log space, so intervals far in a tail keep full precision). Like the
Gumbel-max form of discrete sites it is ``invertible`` in that sense: ``push(abduct(x))``
is ``x`` exactly, and a counterfactual reuses a draw of the noise that produced ``x``.
"""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch.distributions import constraints

from causalppl import checks
from causalppl.errors import CausalError, EvidenceError
from causalppl.noise import NoiseModel, register

__all__ = ["DiscretizedLogistic", "DiscretizedLogisticNoise"]

GRID_TOL = 1e-3  # how far (in level spacings) a value may sit from its level: float32 rounding


class _Levels(constraints.Constraint):
    """The levels ``k / (bins - 1)`` of ``[0, 1]`` (up to ``GRID_TOL`` of a spacing).

    Not ``is_discrete``: the library reads discrete supports as whole-number categories.
    """

    event_dim = 0

    def __init__(self, bins: int):
        self.bins = bins
        super().__init__()

    def check(self, value):
        scaled = value * (self.bins - 1)
        return (value >= 0) & (value <= 1) & ((scaled - scaled.round()).abs() <= GRID_TOL)

    def __repr__(self):
        return f"levels k/{self.bins - 1} of [0, 1]"


class DiscretizedLogistic(dist.TorchDistribution):
    """Pixels on ``bins`` levels of ``[0, 1]``: a rounded logistic (see the module docstring).

    Args:
        loc: logistic locations ``[..., C, H, W]`` in pixel units (e.g. a decoder with
            ``out_activation=None`` or ``"sigmoid"``).
        log_scale: log of the logistic scales, broadcasting with ``loc``.
        bins: number of levels (256 for 8-bit images).
        event_dims: how many trailing dims form one value (3: an image ``(C, H, W)``;
            0: elementwise).

    ``log_prob`` sums the log-masses of the pixels; a value outside ``[0, 1]`` or off the
    levels raises :class:`~causalppl.errors.CausalError`. Not reparameterisable
    (``sample`` only).

    Example:
        >>> import torch
        >>> from causalppl.noise import noise_model
        >>> d = DiscretizedLogistic(torch.full((2, 1, 3, 3), 0.5), torch.tensor(-2.0))
        >>> x = d.sample()
        >>> tuple(x.shape), bool(((x * 255).round() == x * 255).all())
        ((2, 1, 3, 3), True)
        >>> nm = noise_model(d)
        >>> bool((nm.push(nm.abduct(x)) == x).all())
        True
        >>> d.log_prob(torch.full((2, 1, 3, 3), 1.5))
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: value must be in [0, 1] on the grid k/255 (k = 0, ..., 255) everywhere, got 1.5
    """

    arg_constraints = {"loc": constraints.real, "log_scale": constraints.real}
    has_rsample = False

    def __init__(self, loc: torch.Tensor, log_scale, bins: int = 256, event_dims: int = 3, validate_args=None):
        loc = checks.float_tensor(loc, "loc")
        log_scale = torch.as_tensor(log_scale, dtype=loc.dtype, device=loc.device)
        bins = checks.int_at_least(bins, "bins", 2)
        event_dims = checks.int_at_least(event_dims, "event_dims", 0)
        try:
            shape = torch.broadcast_shapes(loc.shape, log_scale.shape)
        except RuntimeError as e:
            raise CausalError(
                f"log_scale of shape {tuple(log_scale.shape)} does not broadcast with loc of shape {tuple(loc.shape)}"
            ) from e
        if len(shape) < event_dims:
            raise CausalError(
                f"loc must have at least event_dims={event_dims} dims ([..., C, H, W] for an "
                f"image), got shape {tuple(shape)}"
            )
        self.loc, self.log_scale = loc.expand(shape), log_scale.expand(shape)
        self.bins, self.event_dims = bins, event_dims
        cut = len(shape) - event_dims
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def support(self):
        return constraints.independent(_Levels(self.bins), self.event_dims)

    @property
    def half_bin(self) -> float:
        """Half the spacing of the levels, ``1 / (2 (bins - 1))``."""
        return 0.5 / (self.bins - 1)

    def expand(self, batch_shape, _instance=None):
        shape = torch.Size(batch_shape) + self.event_shape
        return DiscretizedLogistic(self.loc.expand(shape), self.log_scale.expand(shape), self.bins, self.event_dims)

    def levels(self, value) -> torch.Tensor:
        """The level index ``k`` of each entry of ``value`` (checked: in ``[0, 1]`` on the grid)."""
        value = checks.float_tensor(value, "value", trailing=self.event_shape)
        checks.unit_grid(value, "value", self.bins, tol=GRID_TOL)
        return (value * (self.bins - 1)).round()

    def log_prob(self, value):
        k = self.levels(value)
        c = k / (self.bins - 1)
        inv_s = torch.exp(-self.log_scale)
        upper = (c + self.half_bin - self.loc) * inv_s
        lower = (c - self.half_bin - self.loc) * inv_s
        # sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)): stable in both tails.
        inner = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
        lp = torch.where(k <= 0, F.logsigmoid(upper), torch.where(k >= self.bins - 1, F.logsigmoid(-lower), inner))
        return lp.sum(list(range(-self.event_dims, 0))) if self.event_dims else lp

    def sample(self, sample_shape=()):
        with torch.no_grad():
            shape = torch.Size(sample_shape) + self.batch_shape + self.event_shape
            zero = torch.zeros((), dtype=self.loc.dtype, device=self.loc.device)
            return self.push(dist.Logistic(zero, zero + 1).sample(shape))

    def push(self, u: torch.Tensor) -> torch.Tensor:
        """The level that logistic noise ``u`` gives: ``round(loc + exp(log_scale) * u)``."""
        k = self._level_of(u)
        return k / (self.bins - 1)

    def _level_of(self, u: torch.Tensor) -> torch.Tensor:
        y = self.loc + torch.exp(self.log_scale) * u
        return (y * (self.bins - 1)).round().clamp(0, self.bins - 1)

    def abduct(self, value) -> torch.Tensor:
        """An exact draw of the logistic noise ``u`` given the observed levels ``value``."""
        k = self.levels(value)
        c = k / (self.bins - 1)
        s = torch.exp(self.log_scale)
        inf = torch.tensor(math.inf, dtype=c.dtype, device=c.device)
        lo = torch.where(k <= 0, -inf, (c - self.half_bin - self.loc) / s)
        hi = torch.where(k >= self.bins - 1, inf, (c + self.half_bin - self.loc) / s)
        # Sample the interval's mirror image when it lies mostly above 0, so the CDF values
        # used are the small ones (full relative precision), then mirror back.
        flip = (lo + hi) > 0
        lo, hi = torch.where(flip, -hi, lo), torch.where(flip, -lo, hi)
        w = torch.rand(lo.shape, dtype=lo.dtype, device=lo.device).clamp_min(torch.finfo(lo.dtype).tiny)
        # log(w F(hi) + (1 - w) F(lo)), then u = logit of it.
        log_v = torch.logaddexp(F.logsigmoid(hi) + torch.log(w), F.logsigmoid(lo) + torch.log1p(-w))
        u = log_v - _log1mexp(log_v)
        u = torch.where(flip, -u, u)
        # Rounding at an interval's very edge may land a draw in the next level; those
        # (measure-zero in exact arithmetic) take the noise of the level's centre instead.
        return torch.where(self._level_of(u) == k, u, (c - self.loc) / s)

    def extra_repr(self) -> str:
        return f"bins={self.bins}, event_dims={self.event_dims}"


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and far below it."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


class DiscretizedLogisticNoise(NoiseModel):
    """The noise form of :class:`DiscretizedLogistic`: the logistic variable before rounding.

    ``noise_dist`` is ``Logistic(0, 1)`` per pixel; ``push`` rounds ``loc + scale * u``;
    ``abduct`` is an exact posterior draw (a truncated logistic), so ``push(abduct(x)) == x``.

    Example:
        >>> import torch
        >>> from causalppl.noise import noise_model
        >>> d = DiscretizedLogistic(torch.zeros(1, 2, 2), torch.tensor(0.0))
        >>> nm = noise_model(d, "image")
        >>> nm.describe(), tuple(nm.noise_dist(torch.Size([5])).event_shape)
        ('DiscretizedLogistic(256)', (1, 2, 2))
    """

    invertible = True

    def __init__(self, fn: DiscretizedLogistic, site: str = "?"):
        super().__init__(fn)
        self.site = site

    def noise_dist(self, batch_shape):
        zero = torch.zeros((), dtype=self.fn.loc.dtype, device=self.fn.loc.device)
        base = dist.Logistic(zero, zero + 1).expand(torch.Size(batch_shape) + self.fn.event_shape)
        return base.to_event(self.fn.event_dims) if self.fn.event_dims else base

    def push(self, u):
        return self.fn.push(u)

    def abduct(self, x):
        try:
            return self.fn.abduct(x)
        except CausalError as e:
            raise EvidenceError(f"evidence for site {self.site!r}: {e}") from e

    def describe(self):
        return f"DiscretizedLogistic({self.fn.bins})"


@register(DiscretizedLogistic)
def _discretized_logistic(fn, site):
    return DiscretizedLogisticNoise(fn, site)
