"""Image likelihoods: Pyro distributions with event shape ``(C, H, W)`` and an exact noise form.

* :class:`NormalImage` is ``Normal(loc, scale).to_event(3)`` with checks: its noise form is
  the built-in location-scale one read through ``Independent``, so a counterfactual keeps
  each unit's pixel noise ``u = (x - loc) / scale`` exactly. :class:`NormalImageLikelihood`
  is the head that owns a fixed or learned scale (or reads it from the decoder's output).
* :class:`BernoulliImage` is ``Bernoulli(logits=logits).to_event(3)`` with checks: binary
  pixels, each through the built-in Gumbel-max noise form (an exact posterior draw).
* :class:`~causalppl.nn.DiscretizedLogistic` (its own module) is the discretised likelihood.

Their ``log_prob`` refuses a value of the wrong shape, NaN, or outside the support with a
:class:`~causalppl.errors.CausalError` naming ``value``.

Bits per dimension (:func:`bits_per_dim`) follow one convention, for data in ``[0, 1]``
quantised to ``levels`` levels per dimension (256 for 8-bit images):

* a discretised likelihood (:class:`~causalppl.nn.DiscretizedLogistic`,
  :class:`BernoulliImage`) gives a log-probability *mass*: ``bpd = -log p / (D ln 2)``;
* a continuous density (:class:`NormalImage`) on ``[0, 1]^D`` is a density over dequantised
  data ``(k + u) / levels``, ``u ~ U(0, 1)``: a bin of width ``1 / levels`` holds about
  ``p / levels`` of mass, so ``bpd = -log p / (D ln 2) + log2(levels)`` (an upper bound on
  the discrete model's bpd, the usual convention since RealNVP). A uniform density on
  ``[0, 1]`` and a uniform mass over 256 levels are both 8 bits per dimension.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyro.distributions as dist
import torch
from pyro.nn import PyroModule

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.kernels import scale_transform

from ._blocks import check_image_shape, unique_name

__all__ = ["BernoulliImage", "NormalImage", "NormalImageLikelihood", "bits_per_dim"]

SCALE_MODES = ("shared", "channel", "pixel", "decoder")


class _ImageLaw(dist.Independent):
    """An elementwise law over the last three dims, read as one image ``(C, H, W)``."""

    def __init__(self, base):
        if len(base.batch_shape) < 3:
            raise CausalError(
                f"{type(self).__name__} needs parameters [..., C, H, W], got shape {tuple(base.batch_shape)}"
            )
        super().__init__(base, 3)

    @classmethod
    def _wrap(cls, base):
        new = cls.__new__(cls)
        dist.Independent.__init__(new, base, 3)
        return new

    def expand(self, batch_shape, _instance=None):
        return self._wrap(self.base_dist.expand(torch.Size(batch_shape) + self.event_shape))

    def check_value(self, value) -> torch.Tensor:
        """``value`` if it is a finite float tensor ``[..., C, H, W]``; else a ``CausalError``."""
        return checks.float_tensor(value, "value", trailing=self.event_shape, finite=True)

    def log_prob(self, value):
        return super().log_prob(self.check_value(value))


class NormalImage(_ImageLaw):
    """Independent Gaussian pixels: ``x = loc + scale * u``, ``u ~ Normal(0, 1)`` per pixel.

    The built-in location-scale noise form applies (through ``Independent``), so
    :func:`causalppl.noise.noise_model` abducts ``u = (x - loc) / scale`` exactly.

    Args:
        loc: ``[..., C, H, W]`` pixel means (e.g. a decoder's output).
        scale: a positive number or tensor broadcasting with ``loc``.

    Example:
        >>> import torch
        >>> from causalppl.noise import noise_model
        >>> d = NormalImage(torch.zeros(2, 1, 4, 4), 0.5)
        >>> x = torch.ones(2, 1, 4, 4)
        >>> tuple(d.event_shape), d.log_prob(x).shape
        ((1, 4, 4), torch.Size([2]))
        >>> noise_model(d).abduct(x)[0, 0, 0].tolist()
        [2.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, loc: torch.Tensor, scale):
        loc = checks.float_tensor(loc, "loc", min_dims=3)
        scale = torch.as_tensor(scale, dtype=loc.dtype, device=loc.device)
        if not bool((scale > 0).all()):
            raise CausalError(f"scale must be positive everywhere, got a minimum of {scale.min().item()!r}")
        super().__init__(dist.Normal(loc, scale))

    @property
    def loc(self) -> torch.Tensor:
        return self.base_dist.loc

    @property
    def scale(self) -> torch.Tensor:
        return self.base_dist.scale


class BernoulliImage(_ImageLaw):
    """Independent binary pixels, ``x = 1[logits + g_1 > g_0]`` with Gumbel noise (Gumbel-max).

    Values must be 0 or 1 everywhere. The built-in Gumbel-max noise form applies, so a
    counterfactual draws each pixel's noise from its exact posterior given the pixel.

    Args:
        logits: ``[..., C, H, W]`` (e.g. a decoder with ``out_activation=None``).

    Example:
        >>> import torch
        >>> d = BernoulliImage(torch.zeros(1, 2, 2))
        >>> round(float(d.log_prob(torch.ones(1, 2, 2))), 4)  # 4 pixels of probability 1/2
        -2.7726
        >>> d.log_prob(torch.full((1, 2, 2), 0.5))
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: value must be 0 or 1 everywhere, got 0.5
    """

    def __init__(self, logits: torch.Tensor):
        logits = checks.float_tensor(logits, "logits", min_dims=3)
        super().__init__(dist.Bernoulli(logits=logits))

    @property
    def logits(self) -> torch.Tensor:
        return self.base_dist.logits

    @property
    def probs(self) -> torch.Tensor:
        return self.base_dist.probs

    def check_value(self, value):
        return checks.unit_grid(super().check_value(value), "value", 2)


class NormalImageLikelihood(PyroModule):
    """A :class:`NormalImage` head: turns a decoder's output into the image's law.

    Args:
        image_shape: ``(C, H, W)``.
        scale: the pixel noise scale: fixed, or the initial value of a learned one.
        learn_scale: ``None`` (fixed ``scale``), or a learned scale: ``"shared"`` (one
            number), ``"channel"`` (one per channel) or ``"pixel"`` (one per pixel), each a
            module parameter; or ``"decoder"``: the decoder outputs ``2C`` channels, the
            locations then raw per-pixel scales (a raw output of 0 gives ``scale``).
            Learned scales are ``softplus(raw) + 1e-4``.
        name: the module's Pyro name (unique by default).

    Example:
        >>> import torch
        >>> head = NormalImageLikelihood((1, 8, 8), scale=0.1, learn_scale="decoder")
        >>> head.param_channels   # what the decoder must output
        2
        >>> d = head(torch.zeros(5, 2, 8, 8))
        >>> tuple(d.batch_shape), tuple(d.event_shape), round(float(d.scale.max()), 4)
        ((5,), (1, 8, 8), 0.1001)
    """

    def __init__(
        self, image_shape: Sequence[int], scale: float = 0.1, learn_scale: str | None = None, *, name: str | None = None
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.image_shape = check_image_shape(image_shape)
        self.scale = checks.positive_number(scale, "scale")
        self.learn_scale = None if learn_scale is None else checks.choice(learn_scale, "learn_scale", SCALE_MODES)
        c, h, w = self.image_shape
        self.param_channels = 2 * c if learn_scale == "decoder" else c
        # softplus(raw + offset) + 1e-4: a zero raw output (or the initial parameter) gives ~scale.
        self.offset = math.log(math.expm1(self.scale))
        shape = {"shared": (), "channel": (c, 1, 1), "pixel": (c, h, w)}.get(learn_scale)
        if shape is not None:
            self.raw_scale = torch.nn.Parameter(torch.zeros(shape))

    def forward(self, output: torch.Tensor) -> NormalImage:
        """The law of the image given the decoder's ``output [..., param_channels, H, W]``."""
        _, h, w = self.image_shape
        output = checks.float_tensor(output, "output", trailing=(self.param_channels, h, w))
        if self.learn_scale == "decoder":
            loc, raw = output.chunk(2, -3)
            return NormalImage(loc, scale_transform(raw + self.offset))
        if self.learn_scale is None:
            return NormalImage(output, self.scale)
        return NormalImage(output, scale_transform(self.raw_scale + self.offset))

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, scale={self.scale}, learn_scale={self.learn_scale!r}"


def bits_per_dim(log_prob, num_dims: int, *, levels: int | None = None):
    """A log-likelihood in nats as bits per dimension (the convention is in the module docstring).

    Args:
        log_prob: a log-probability mass (discretised likelihood) or, with ``levels``, a
            log-density of data on ``[0, 1]^D`` (number or tensor, e.g. per image).
        num_dims: ``D``, the dimensions it covers (``C * H * W`` for one image).
        levels: ``None`` for a mass; for a density, the quantisation levels of the data
            (256 for 8-bit images): each bin has width ``1 / levels``, which adds
            ``log2(levels)`` bits per dimension.

    Returns:
        ``-log_prob / (D ln 2)``, plus ``log2(levels)`` for a density; a tensor for a tensor.

    Example:
        >>> import math
        >>> bits_per_dim(-784 * math.log(256), 784)   # uniform mass over 256 levels
        8.0
        >>> bits_per_dim(0.0, 784, levels=256)        # uniform density on [0, 1]
        8.0
    """
    d = checks.positive_int(num_dims, "num_dims")
    extra = 0.0 if levels is None else math.log2(checks.int_at_least(levels, "levels", 2))
    if isinstance(log_prob, torch.Tensor):
        return -log_prob / (d * math.log(2)) + extra
    if not isinstance(log_prob, (int, float)) or isinstance(log_prob, bool):
        raise CausalError(f"log_prob must be a number or a tensor, got {type(log_prob).__name__}")
    return -float(log_prob) / (d * math.log(2)) + extra
