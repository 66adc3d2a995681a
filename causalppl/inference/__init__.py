"""Inference: abduction of exogenous noise (and, with the neural-SCM issue, fitting)."""

from .abduction import ExogenousMessenger, resample, svi_noise_posterior

__all__ = ["ExogenousMessenger", "resample", "svi_noise_posterior"]
