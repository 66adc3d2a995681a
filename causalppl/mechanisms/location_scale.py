"""Location-scale (heteroscedastic) noise: ``x = f(pa) + g(pa) * U``."""

from __future__ import annotations

import pyro.distributions as dist

from .base import Mechanism
from .heads import LOCATION_SCALE, scale_transform

__all__ = ["LocationScale"]


class LocationScale(Mechanism):
    """``x = f(pa) + g(pa) * U``, ``U ~ Normal(0, 1)``; one MLP outputs ``f`` and raw ``g``.

    Example:
        >>> import torch
        >>> mech = LocationScale(1, hidden=(8,))
        >>> d = mech([torch.zeros(4)])
        >>> type(d).__name__, tuple(d.batch_shape)
        ('Normal', (4,))
    """

    kind = LOCATION_SCALE

    @property
    def width(self) -> int:
        return 2

    def shift_and_scale(self, raw, loc=0.0, scale=1.0):
        """``(f, g)`` in data units: the MLP's two heads, rescaled by the standardisation."""
        out = self.split(raw)
        return loc + scale * out[..., 0], scale * scale_transform(out[..., 1])

    def distribution(self, raw, loc=0.0, scale=1.0):
        fn = dist.Normal(*self.shift_and_scale(raw, loc, scale))
        return fn if self.dim is None else fn.to_event(1)
