"""Inference: abduction of exogenous noise (and, with the neural-SCM issue, fitting)."""

from .abduction import ExogenousMessenger, resample, svi_noise_posterior
from .fit import fit

__all__ = ["ExogenousMessenger", "fit", "resample", "svi_noise_posterior"]
