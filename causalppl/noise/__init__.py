"""Exogenous noise read out of ordinary Pyro distributions.

A site ``pyro.sample("y", Normal(loc, scale))`` *is* the structural equation
``y = loc + scale * U`` with ``U ~ Normal(0, 1)``. :func:`noise_model` turns a site's
distribution into a :class:`NoiseModel` that can push noise forward (``x = push(u)``),
recover it from data (``u = abduct(x)``; exact for invertible mechanisms, an exact
posterior draw for Gumbel-max discrete sites) and name its prior (``noise_dist``).
The forms are registered by distribution type; :func:`register` adds a user's own.
"""

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
from .registry import noise_model, register, registered

__all__ = [
    "DeltaNoise",
    "GumbelMaxNoise",
    "IndependentNoise",
    "LocScaleNoise",
    "MultivariateNormalNoise",
    "NoiseModel",
    "QuantileNoise",
    "TransformedNoise",
    "noise_model",
    "register",
    "registered",
]
