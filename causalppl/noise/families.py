"""Noise families of linear and additive-noise SCMs, each parameterised by its standard deviation."""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch

from ..errors import CausalError

__all__ = ["NOISE_FAMILIES", "STUDENT_T_DF", "noise_distribution", "standard_noise"]

NOISE_FAMILIES = ("gaussian_equal", "gaussian", "laplace", "uniform", "student_t")
STUDENT_T_DF = 5.0


def noise_distribution(family: str, loc, sd) -> dist.Distribution:
    """The ``family`` distribution with location ``loc`` and standard deviation ``sd``.

    Example:
        >>> d = noise_distribution("uniform", torch.tensor(1.0), 2.0)
        >>> f"{float(d.variance):.6f}"
        '4.000000'
    """
    loc = torch.as_tensor(loc, dtype=torch.get_default_dtype())
    if family in ("gaussian", "gaussian_equal"):
        return dist.Normal(loc, sd)
    if family == "laplace":
        return dist.Laplace(loc, sd / math.sqrt(2.0))
    if family == "uniform":
        half = math.sqrt(3.0) * sd
        return dist.Uniform(loc - half, loc + half)
    if family == "student_t":
        return dist.StudentT(STUDENT_T_DF, loc, sd * math.sqrt((STUDENT_T_DF - 2.0) / STUDENT_T_DF))
    raise CausalError(f"noise must be one of {NOISE_FAMILIES}, got {family!r}")


def standard_noise(family: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` draws of the family's zero-mean, unit-variance noise from ``generator``."""
    dtype = torch.get_default_dtype()
    if family in ("gaussian", "gaussian_equal"):
        return torch.randn(n, generator=generator, dtype=dtype)
    u = torch.rand(n, generator=generator, dtype=dtype)
    if family == "uniform":
        return math.sqrt(3.0) * (2.0 * u - 1.0)
    if family == "laplace":  # inverse CDF
        u = u.clamp(1e-300, 1 - 1e-16) - 0.5
        return -torch.sign(u) * torch.log1p(-2.0 * u.abs()) / math.sqrt(2.0)
    if family == "student_t":
        g = torch.randn(n, generator=generator, dtype=dtype)
        chi2 = (torch.randn(n, int(STUDENT_T_DF), generator=generator, dtype=dtype) ** 2).sum(-1)
        return g / torch.sqrt(chi2 / STUDENT_T_DF) * math.sqrt((STUDENT_T_DF - 2.0) / STUDENT_T_DF)
    raise CausalError(f"noise must be one of {NOISE_FAMILIES}, got {family!r}")
