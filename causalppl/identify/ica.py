"""Linear ICA by maximum likelihood, as a Pyro program.

Model (one data set): ``s = W x`` has independent components with a fixed non-Gaussian
density, so ``log p(x) = Σ_n Σ_i log p_i((W x_n)_i) + n log |det W|``. :func:`ica_model`
writes exactly this as a Pyro program (``obs=`` sites for the sources, a ``factor`` for
the Jacobian); :func:`fit_ica` maximises the program's log density with L-BFGS.

Source densities, as in extended infomax (Lee, Girolami & Sejnowski 1999): a
super-Gaussian component gets a standard logistic density, a sub-Gaussian one the
bimodal ``½ N(-1, 1) + ½ N(1, 1)``; the type of each component is switched by the sign of
its excess kurtosis between rounds of fitting. With a Gaussian prior the likelihood is
invariant under ``W -> R W`` for every orthogonal ``R``: the components are not
identifiable (Comon 1994), which :func:`ica_log_likelihood` lets tests show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch

from .. import checks
from ..errors import CausalError
from ..linalg import random_orthogonal
from .optimize import minimize_lbfgs, seeded_generator

__all__ = ["BimodalNormal", "ICAResult", "fit_ica", "ica_log_likelihood", "ica_model", "whiten"]


class BimodalNormal(dist.TorchDistribution):
    """``½ N(-1, 1) + ½ N(1, 1)`` per entry: a sub-Gaussian density (excess kurtosis -½).

    Its log density has the closed form ``-s²/2 - ½ + log cosh s - ½ log 2π``, much cheaper
    than a generic mixture.

    Example:
        >>> d = BimodalNormal(torch.zeros(()))
        >>> f"{float(d.log_prob(torch.tensor(0.0)).exp()):.6f}"  # = N(1; 0, 1)
        '0.241971'
    """

    arg_constraints: dict = {}
    support = dist.constraints.real

    def __init__(self, like: torch.Tensor, validate_args=None):
        self._like = like
        super().__init__(like.shape, validate_args=validate_args)

    def log_prob(self, value):
        a = value.abs()  # log cosh a = a + log1p(exp(-2a)) - log 2, stable for large |a|
        log_cosh = a + torch.log1p(torch.exp(-2.0 * a)) - math.log(2.0)
        return -0.5 * value**2 - 0.5 + log_cosh - 0.5 * math.log(2.0 * math.pi)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            sign = torch.randint(0, 2, shape, dtype=self._like.dtype) * 2.0 - 1.0
            return sign + torch.randn(shape, dtype=self._like.dtype)

    def expand(self, batch_shape, _instance=None):
        return BimodalNormal(self._like.expand(batch_shape))


def _source_prior(kind: str, size: int, like: torch.Tensor) -> dist.Distribution:
    zero = torch.zeros(size, dtype=like.dtype)
    if kind == "super":
        return dist.Logistic(zero, zero + 1.0).to_event(1)
    if kind == "sub":
        return BimodalNormal(zero).to_event(1)
    if kind == "gaussian":
        return dist.Normal(zero, 1.0).to_event(1)
    raise CausalError(f"source prior must be 'super', 'sub' or 'gaussian', got {kind!r}")


def ica_model(x: torch.Tensor, unmixing: torch.Tensor, prior="super") -> None:
    """Pyro program for ``x`` ``[n, d]`` under the ICA model with unmixing ``W`` ``[d, d]``.

    Args:
        prior: ``"super"``, ``"sub"``, ``"gaussian"``, or a bool tensor ``[d]`` marking
            super-Gaussian components (the rest sub-Gaussian).

    Example:
        >>> import pyro.poutine as poutine
        >>> x = torch.randn(10, 2, dtype=torch.float64)
        >>> tr = poutine.trace(ica_model).get_trace(x, torch.eye(2, dtype=torch.float64))
        >>> sorted(n for n, s in tr.nodes.items() if s["type"] == "sample" and n != "units")
        ['log_abs_det', 'sources_super']
    """
    n, d = x.shape
    s = x @ unmixing.T
    if isinstance(prior, str):
        groups = {prior: torch.arange(d)}
    else:
        mask = torch.as_tensor(prior, dtype=torch.bool)
        groups = {"super": torch.nonzero(mask)[:, 0], "sub": torch.nonzero(~mask)[:, 0]}
    with pyro.plate("units", n):
        for kind, cols in groups.items():
            if len(cols):
                pyro.sample(f"sources_{kind}", _source_prior(kind, len(cols), s), obs=s[:, cols])
    pyro.factor("log_abs_det", n * torch.linalg.slogdet(unmixing)[1])


def ica_log_likelihood(x, unmixing, prior="super") -> torch.Tensor:
    """``log p(x | W)`` under :func:`ica_model` (the sum over rows), differentiable in ``W``.

    Example:
        >>> x = torch.zeros(4, 2, dtype=torch.float64)
        >>> f"{float(ica_log_likelihood(x, torch.eye(2, dtype=torch.float64), 'gaussian')):.6f}"  # 8 log N(0)
        '-7.351508'
    """
    x = torch.as_tensor(x, dtype=torch.get_default_dtype())
    return poutine.trace(ica_model).get_trace(x, unmixing, prior).log_prob_sum()


def whiten(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_white, whitening K, mean)`` with ``x_white = (x - mean) @ K.T`` of identity covariance.

    Example:
        >>> x = torch.randn(100, 2, dtype=torch.float64) @ torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
        >>> xw, k, mean = whiten(x)
        >>> bool(torch.allclose(torch.cov(xw.T), torch.eye(2, dtype=torch.float64)))
        True
    """
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / (x.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    if evals.min() <= 1e-12 * evals.max():
        raise CausalError("x has a (near-)singular covariance; ICA needs full-rank observations")
    k = (evecs / evals.sqrt()).T
    return xc @ k.T, k, mean


@dataclass
class ICAResult:
    """A fitted ICA model.

    Attributes:
        unmixing: ``W`` ``[d, d]`` with ``sources = (x - mean) @ W.T``.
        mixing: ``W⁻¹``, the estimate of the mixing matrix (up to permutation and scale).
        sources: the estimated components of the training data.
        super_gaussian: the component types used by the final fit.
        log_likelihood: the maximised log density of the Pyro program (whitened data).

    Example:
        >>> s = torch.distributions.Laplace(0.0, 1.0).sample((500, 2)).double()
        >>> fit = fit_ica(s @ torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64).T)
        >>> bool(torch.allclose(fit.unmixing @ fit.mixing, torch.eye(2, dtype=torch.float64)))
        True
    """

    unmixing: torch.Tensor
    mixing: torch.Tensor
    mean: torch.Tensor
    sources: torch.Tensor
    super_gaussian: torch.Tensor
    log_likelihood: float


def _maximise(xw: torch.Tensor, w0: torch.Tensor, prior, steps: int) -> tuple[torch.Tensor, float]:
    d = w0.shape[0]
    flat = minimize_lbfgs(
        lambda v: -ica_log_likelihood(xw, v.view(d, d), prior) / xw.shape[0], w0.reshape(-1), steps=steps
    )
    w = flat.view(d, d).clone()
    with torch.no_grad():
        return w, float(ica_log_likelihood(xw, w, prior))


def fit_ica(x, *, restarts: int = 2, rounds: int = 3, steps: int = 200, seed: int | None = 0) -> ICAResult:
    """Maximum-likelihood linear ICA of ``x`` ``[n, d]`` (see the module docstring).

    The data are whitened first; the unmixing of the whitened data starts from the identity
    and ``restarts - 1`` random rotations, and the best log density wins. Each restart runs
    up to ``rounds`` rounds of L-BFGS, re-typing components (super/sub-Gaussian) by the
    sign of their excess kurtosis until the types stop changing.

    Args:
        x: ``[n, d]`` observations, ``n > d``, finite, of full-rank covariance.
        restarts: starting points (the identity, then random rotations).
        rounds: the most re-typing rounds per restart.
        steps: the most L-BFGS iterations per round.
        seed: seeds the random rotations (``None``: fresh randomness).

    Raises:
        CausalError: naming the argument that is out of range, or ``x`` when it is not
            such a matrix.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> s = torch.distributions.Laplace(0.0, 1.0).sample((2000, 2))
        >>> a = torch.tensor([[1.0, 0.5], [0.3, 1.0]], dtype=s.dtype)
        >>> fit = fit_ica(s @ a.T)
        >>> from causalppl.metrics import mcc
        >>> mcc(s, fit.sources) > 0.98
        True
    """
    x = torch.as_tensor(checks.matrix(x, "x"), dtype=torch.get_default_dtype())
    if x.shape[0] <= x.shape[1]:
        raise CausalError(f"x must be [n, d] with n > d, got shape {tuple(x.shape)}")
    restarts = checks.positive_int(restarts, "restarts")
    rounds = checks.positive_int(rounds, "rounds")
    steps = checks.positive_int(steps, "steps")
    gen = seeded_generator(seed)
    xw, k, mean = whiten(x)
    d = x.shape[1]
    best = None
    for r in range(restarts):
        w = torch.eye(d, dtype=x.dtype) if r == 0 else random_orthogonal(d, gen).to(x.dtype)
        types = torch.ones(d, dtype=torch.bool)
        for _ in range(rounds):
            w, ll = _maximise(xw, w, types, steps)
            s = xw @ w.T
            kurt = ((s - s.mean(0)) ** 4).mean(0) / s.var(0) ** 2 - 3.0
            new_types = kurt > 0
            if torch.equal(new_types, types):
                break
            types = new_types
        if best is None or ll > best[1]:
            best = (w, ll, types)
    w, ll, types = best
    unmixing = w @ k
    return ICAResult(unmixing, torch.linalg.inv(unmixing), mean, (x - mean) @ unmixing.T, types, ll)
