"""Factor analysis as a Pyro program: the textbook non-identifiable latent-variable model.

``z ~ N(0, I_k)``, ``x = mean + L z + ψ ⊙ ε``. The marginal law ``N(mean, L Lᵀ + diag ψ²)``
depends on ``L`` only through ``L Lᵀ``, so ``L -> L R`` for any orthogonal ``R`` leaves the
likelihood unchanged (exactly, up to float rounding): the factors are identified only up
to rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch

from .. import checks
from ..errors import CausalError
from .optimize import minimize_lbfgs, seeded_generator

__all__ = ["FactorAnalysis", "factor_analysis_log_likelihood", "factor_analysis_model", "fit_factor_analysis"]


def factor_analysis_model(loadings: torch.Tensor, noise_scale: torch.Tensor, mean=None) -> torch.Tensor:
    """One unit of the factor-analysis model: latent site ``"z"`` ``[k]``, observed ``"x"`` ``[p]``.

    Example:
        >>> import causalppl as cp
        >>> lo = torch.ones(3, 1, dtype=torch.float64)
        >>> cp.graph(factor_analysis_model, lo, torch.ones(3, dtype=torch.float64)).edges
        [('z', 'x')]
    """
    p, k = loadings.shape
    mean = torch.zeros(p, dtype=loadings.dtype) if mean is None else mean
    z = pyro.sample("z", dist.Normal(torch.zeros(k, dtype=loadings.dtype), 1.0).to_event(1))
    return pyro.sample("x", dist.Normal(mean + z @ loadings.T, noise_scale).to_event(1))


def _marginal_model(loadings, noise_scale, mean, n):
    cov = loadings @ loadings.T + torch.diag(noise_scale**2)
    with pyro.plate("units", n):
        return pyro.sample("x", dist.MultivariateNormal(mean, covariance_matrix=cov))


def factor_analysis_log_likelihood(x, loadings, noise_scale, mean=None) -> torch.Tensor:
    """``log p(x)`` with ``z`` integrated out: the Pyro program ``x ~ N(mean, L Lᵀ + diag ψ²)``.

    Example:
        >>> x = torch.randn(20, 3, dtype=torch.float64)
        >>> lo = torch.randn(3, 2, dtype=torch.float64)
        >>> r = torch.linalg.qr(torch.randn(2, 2, dtype=torch.float64))[0]
        >>> psi = torch.ones(3, dtype=torch.float64)
        >>> a = factor_analysis_log_likelihood(x, lo, psi)
        >>> bool(torch.isclose(a, factor_analysis_log_likelihood(x, lo @ r, psi), rtol=1e-13))
        True
    """
    x = torch.as_tensor(x, dtype=torch.get_default_dtype())
    if x.ndim != 2 or x.shape[1] != loadings.shape[0]:
        raise CausalError(f"x must be [n, {loadings.shape[0]}] to match loadings, got {tuple(x.shape)}")
    mean = torch.zeros(x.shape[1], dtype=x.dtype) if mean is None else mean
    cond = poutine.condition(_marginal_model, {"x": x})
    return poutine.trace(cond).get_trace(loadings, noise_scale, mean, x.shape[0]).log_prob_sum()


@dataclass
class FactorAnalysis:
    """Fitted factor analysis: ``loadings`` ``[p, k]``, ``noise_scale`` ``[p]``, ``mean`` ``[p]``.

    Example:
        >>> fa = FactorAnalysis(torch.ones(3, 1), torch.ones(3), torch.zeros(3), 0.0)
        >>> tuple(fa.loadings.shape)
        (3, 1)
    """

    loadings: torch.Tensor
    noise_scale: torch.Tensor
    mean: torch.Tensor
    log_likelihood: float


def fit_factor_analysis(x, num_factors: int, *, steps: int = 500, seed: int | None = 0) -> FactorAnalysis:
    """Maximum likelihood by L-BFGS on :func:`factor_analysis_log_likelihood`.

    Args:
        x: ``[n, p]`` observations, ``n > p``, finite.
        num_factors: ``k``, an int in ``[1, p)``.
        steps: the most L-BFGS iterations.
        seed: seeds the random starting loadings (``None``: fresh randomness).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> z = torch.randn(1000, 1, generator=g, dtype=torch.float64)
        >>> x = z @ torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64)
        >>> x = x + 0.3 * torch.randn(1000, 3, generator=g, dtype=torch.float64)
        >>> fit = fit_factor_analysis(x, 1)
        >>> [round(abs(float(v)), 1) for v in fit.loadings[:, 0]]
        [1.0, 2.0, 1.0]
    """
    x = torch.as_tensor(checks.matrix(x, "x"), dtype=torch.get_default_dtype())
    if x.shape[0] <= x.shape[1]:
        raise CausalError(f"x must be [n, p] with n > p, got shape {tuple(x.shape)}")
    p = x.shape[1]
    num_factors = checks.positive_int(num_factors, "num_factors")
    if num_factors >= p:
        raise CausalError(f"num_factors must be below the {p} columns of x, got {num_factors}")
    steps = checks.positive_int(steps, "steps")
    gen = seeded_generator(seed)
    mean = x.mean(0)
    sd = x.std(0)
    if (sd == 0).any():
        raise CausalError(f"x has a constant column ({int(torch.nonzero(sd == 0)[0, 0])}); every column must vary")
    init = torch.cat(
        [
            0.5 * sd[:, None].mul(torch.randn(p, num_factors, generator=gen, dtype=x.dtype)).reshape(-1),
            torch.log(sd * 0.7),
        ]
    )

    def unpack(v):
        return v[: p * num_factors].view(p, num_factors), torch.exp(v[p * num_factors :])

    flat = minimize_lbfgs(
        lambda v: -factor_analysis_log_likelihood(x, *unpack(v), mean) / x.shape[0],
        init,
        steps=steps,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )
    loadings, psi = (t.clone() for t in unpack(flat))
    with torch.no_grad():
        ll = float(factor_analysis_log_likelihood(x, loadings, psi, mean))
    return FactorAnalysis(loadings, psi, mean, ll)
