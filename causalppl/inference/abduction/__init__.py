"""Abduction: the strategies that recover units' exogenous noise, behind one interface.

Example:
    >>> from causalppl.inference.abduction import STRATEGIES
    >>> sorted(STRATEGIES)
    ['amortized', 'exact', 'importance', 'svi']
"""

from .amortized import Amortized
from .base import STRATEGIES, Abduction, WorldRun, choose, latent_sites
from .exact import Exact
from .importance import Importance, resample
from .solve import solve_deterministic
from .svi import SVI, ExogenousMessenger, noise_site, svi_noise_posterior

__all__ = [
    "STRATEGIES",
    "SVI",
    "Abduction",
    "Amortized",
    "Exact",
    "ExogenousMessenger",
    "Importance",
    "WorldRun",
    "choose",
    "latent_sites",
    "noise_site",
    "resample",
    "solve_deterministic",
    "svi_noise_posterior",
]
