"""Bivariate additive-noise-model direction test (Hoyer et al. 2009; Mooij et al. 2016).

If ``y = f(x) + n`` with ``n ⫫ x`` and ``f`` nonlinear (or the noise non-Gaussian), the
backward model ``x = g(y) + m`` with ``m ⫫ y`` generically does not exist. Each direction
is fitted by kernel ridge regression — the posterior mean of a Gaussian-process prior on
the mechanism, i.e. the MAP of the Pyro program :func:`anm_model` with a GP prior on
``f`` — and the in-sample residual is tested for independence from the regressor with
HSIC (bandwidth and ridge penalty chosen by exact leave-one-out error, which keeps the
fit from absorbing the noise; no sample splitting, so both p-values are slightly
optimistic in the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyro
import pyro.distributions as dist
import torch

from .. import checks
from ..errors import CausalError
from .hsic import hsic_test

__all__ = ["ANMResult", "anm_direction", "anm_model", "kernel_ridge_fit"]

_MIN_SAMPLES = 6  # the HSIC gamma null needs n >= 6
_LAMBDAS = np.logspace(-4, 0, 9)
_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0)


def anm_model(f: Callable[[torch.Tensor], torch.Tensor], noise_scale: float) -> Callable:
    """The bivariate ANM ``x ~ N(0, 1)``, ``y ~ N(f(x), noise_scale)`` as a Pyro program.

    Example:
        >>> import causalppl as cp
        >>> cp.graph(anm_model(torch.tanh, 0.1)).edges
        [('x', 'y')]
    """

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Normal(f(x), noise_scale))

    return model


@dataclass(frozen=True)
class ANMResult:
    """Outcome of :func:`anm_direction`.

    Attributes:
        direction: ``"x->y"``, ``"y->x"`` or ``"undecided"``.
        pvalue_forward: HSIC p-value of (x, residual of y regressed on x).
        pvalue_backward: HSIC p-value of (y, residual of x regressed on y).
        alpha: the level used by the decision rule.

    Example:
        >>> r = ANMResult("x->y", 0.4, 0.001, 0.05)
        >>> r.direction, r.pvalue_forward > r.alpha >= r.pvalue_backward
        ('x->y', True)
    """

    direction: str
    pvalue_forward: float
    pvalue_backward: float
    alpha: float


def kernel_ridge_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """In-sample kernel ridge predictions of ``y`` from 1-D ``x`` (Gaussian kernel).

    Bandwidth (a multiple of the median distance) and ridge penalty are chosen by exact
    leave-one-out error, computed for all penalties from one eigendecomposition per
    bandwidth.

    Example:
        >>> x = np.linspace(-2, 2, 50)
        >>> fitted = kernel_ridge_fit(x, np.sin(x))
        >>> bool(np.abs(fitted - np.sin(x)).max() < 0.05)
        True
    """
    d2 = (x[:, None] - x[None, :]) ** 2
    med = np.median(d2[np.triu_indices(len(x), 1)])
    med = med if med > 0 else 1.0
    best = (np.inf, None)
    n = len(x)
    for bw in _BANDWIDTHS:
        evals, evecs = np.linalg.eigh(np.exp(-d2 / (2.0 * bw**2 * med)))
        evals = np.maximum(evals, 0.0)
        proj = evecs.T @ y
        for lam in _LAMBDAS:
            shrink = evals / (evals + n * lam)
            fitted = evecs @ (shrink * proj)
            hat_diag = (evecs**2) @ shrink
            loo = np.mean(((y - fitted) / np.maximum(1.0 - hat_diag, 1e-12)) ** 2)
            if loo < best[0]:
                best = (loo, fitted)
    return best[1]


def anm_direction(
    x, y, *, alpha: float = 0.05, seed: int | None = 0, max_samples: int = 1000, method: str = "gamma"
) -> ANMResult:
    """Decide the causal direction between two scalar variables by residual independence.

    Decision rule: ``"x->y"`` when the forward model's residuals look independent
    (``pvalue_forward > alpha``) and the backward ones do not (``pvalue_backward <= alpha``);
    ``"y->x"`` symmetrically; ``"undecided"`` when both or neither are accepted (e.g. a
    linear-Gaussian pair, where both directions are valid ANMs).

    Args:
        x, y: paired samples ``[n]``, ``n >= 6``; standardized internally.
        alpha: level of each HSIC test, in ``(0, 1)``.
        seed: picks the random subsample when ``n > max_samples`` (the kernel methods are
            ``O(n³)``), and seeds permutation p-values (``None``: fresh randomness).
        max_samples: the most samples used, at least 6.
        method: HSIC p-value by ``"gamma"`` approximation or ``"permutation"``.

    Raises:
        CausalError: naming ``x``, ``y`` or the argument out of range.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(-2, 2, 400)
        >>> y = np.tanh(2 * x) + x**2 / 2 + 0.2 * rng.normal(size=400)
        >>> anm_direction(x, y).direction
        'x->y'
    """
    a, b = checks.paired_samples(x, y, ("x", "y"), min_rows=_MIN_SAMPLES)
    if a.shape[1] != 1 or b.shape[1] != 1:
        raise CausalError(f"x and y must be scalar variables, got {a.shape[1]} and {b.shape[1]} columns")
    alpha = checks.open_fraction(alpha, "alpha")
    seed = checks.seed(seed)
    max_samples = checks.int_at_least(max_samples, "max_samples", _MIN_SAMPLES)
    checks.choice(method, "method", ("gamma", "permutation"))
    a, b = a[:, 0], b[:, 0]
    if len(a) > max_samples:
        keep = np.random.default_rng(seed).choice(len(a), max_samples, replace=False)
        a, b = a[keep], b[keep]
    for name, v in (("x", a), ("y", b)):
        if v.std() == 0:
            raise CausalError(f"{name} is constant; no direction can be tested")
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    p_fwd = hsic_test(a, b - kernel_ridge_fit(a, b), method=method, seed=seed).pvalue
    p_bwd = hsic_test(b, a - kernel_ridge_fit(b, a), method=method, seed=seed).pvalue
    if p_fwd > alpha >= p_bwd:
        direction = "x->y"
    elif p_bwd > alpha >= p_fwd:
        direction = "y->x"
    else:
        direction = "undecided"
    return ANMResult(direction, p_fwd, p_bwd, alpha)
