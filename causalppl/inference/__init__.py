"""Inference: abduction of exogenous noise, and fitting models to data.

Example:
    >>> from causalppl.inference import fit
    >>> callable(fit)
    True
"""

from .abduction import ExogenousMessenger, resample, svi_noise_posterior
from .fit import fit

__all__ = ["ExogenousMessenger", "fit", "resample", "svi_noise_posterior"]
