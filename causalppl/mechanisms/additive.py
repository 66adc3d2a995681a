"""Additive noise: ``x = f(pa) + sigma * U``, ``U ~ Normal(0, 1)``, with an MLP ``f``."""

from __future__ import annotations

import pyro.distributions as dist

from .base import Mechanism
from .heads import ADDITIVE, additive_scale

__all__ = ["AdditiveNoise"]


class AdditiveNoise(Mechanism):
    """``x = f(pa) + sigma * U`` with a learnable per-element noise scale ``sigma``.

    Example:
        >>> import torch
        >>> torch.manual_seed(0)
        <torch._C.Generator object at ...>
        >>> mech = AdditiveNoise(2, hidden=(16,))
        >>> d = mech(torch.randn(10, 2))
        >>> type(d).__name__, tuple(d.batch_shape)
        ('Normal', (10,))
    """

    kind = ADDITIVE
    scale_dims = 1

    @property
    def width(self) -> int:
        return 1

    def noise_scale(self):
        """``sigma``: a scalar (scalar node) or ``[d]`` (vector node)."""
        sigma = additive_scale(self.net.raw_scale[self.index])
        return sigma[0] if self.dim is None else sigma

    def distribution(self, raw, loc=0.0, scale=1.0):
        mean = self.split(raw)[..., 0]
        fn = dist.Normal(loc + scale * mean, scale * self.noise_scale())
        return fn if self.dim is None else fn.to_event(1)
