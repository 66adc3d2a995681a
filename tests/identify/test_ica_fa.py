"""Linear ICA (identifiable with non-Gaussian sources) and its Gaussian and factor-analysis
controls (identifiable only up to rotation)."""

import math

import numpy as np
import pyro.poutine as poutine
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from causalppl.errors import CausalError
from causalppl.identify import (
    factor_analysis_log_likelihood,
    factor_analysis_model,
    fit_factor_analysis,
    fit_ica,
    ica_log_likelihood,
    whiten,
)
from causalppl.linalg import random_well_conditioned
from causalppl.metrics import amari_index, mcc
from causalppl.noise.families import standard_noise
from causalppl.testing import assert_identifiable, assert_invariant, orthogonal_group


def _sources(kind, n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    if kind == "mixed":
        return torch.stack([standard_noise("uniform" if i % 2 else "laplace", n, gen) for i in range(d)], -1)
    return torch.stack([standard_noise(kind, n, gen) for _ in range(d)], -1)


def test_ica_log_density_matches_the_closed_form():
    x = torch.randn(40, 3, dtype=torch.float64)
    w = torch.randn(3, 3, dtype=torch.float64)
    s = (x @ w.T).numpy()
    logdet = np.linalg.slogdet(w.numpy())[1]
    logistic = -s - 2 * np.log1p(np.exp(-s))
    assert float(ica_log_likelihood(x, w, "super")) == pytest.approx(logistic.sum() + 40 * logdet, rel=1e-12)
    bimodal = np.log(0.5 * norm.pdf(s, -1, 1) + 0.5 * norm.pdf(s, 1, 1))
    assert float(ica_log_likelihood(x, w, "sub")) == pytest.approx(bimodal.sum() + 40 * logdet, rel=1e-12)
    mixed = torch.tensor([True, False, True])
    ref = logistic[:, [0, 2]].sum() + bimodal[:, 1].sum() + 40 * logdet
    assert float(ica_log_likelihood(x, w, mixed)) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("kind, seed", [("laplace", 0), ("uniform", 1), ("mixed", 2), ("student_t", 3)])
def test_linear_ica_recovers_non_gaussian_sources(kind, seed):
    s = _sources(kind, 2000, 3, seed)
    a = random_well_conditioned(3, 3, 4.0, torch.Generator().manual_seed(seed))
    x = s @ a.T
    fit = fit_ica(x, seed=seed)
    null = mcc(s, whiten(x)[0])  # decorrelation alone: right up to an unknown rotation
    assert_identifiable(mcc(s, fit.sources), null, floor=0.95, margin=0.1)
    assert amari_index(fit.unmixing, a) <= 0.1
    if kind != "mixed":
        assert bool(fit.super_gaussian.all()) == (kind in ("laplace", "student_t"))


def test_the_same_fit_fails_on_gaussian_sources():
    """The null control is not decoration: with Gaussian sources the fit does not clear it."""
    s = _sources("gaussian", 2000, 3, 5)
    a = random_well_conditioned(3, 3, 4.0, torch.Generator().manual_seed(5))
    fit = fit_ica(s @ a.T)
    with pytest.raises(AssertionError):
        assert_identifiable(mcc(s, fit.sources), mcc(s, whiten(s @ a.T)[0]), floor=0.95, margin=0.1)


def test_gaussian_ica_likelihood_is_rotation_invariant_and_non_gaussian_is_not():
    s = _sources("gaussian", 1000, 3, 7)
    x = s @ random_well_conditioned(3, 3, 3.0, torch.Generator().manual_seed(7)).T
    w = fit_ica(x).unmixing
    assert_invariant(
        lambda w: ica_log_likelihood(x, w, "gaussian"), w, lambda w, r: r @ w, orthogonal_group(3), rtol=1e-12, atol=0.0
    )
    xl = _sources("laplace", 1000, 3, 7)
    with pytest.raises(AssertionError, match="log-likelihood changed"):
        assert_invariant(
            lambda w: ica_log_likelihood(xl, w, "super"),
            torch.eye(3, dtype=torch.float64),
            lambda w, r: r @ w,
            orthogonal_group(3),
        )


def test_fit_ica_bad_input():
    with pytest.raises(CausalError, match="n > d"):
        fit_ica(torch.ones(2, 3))
    with pytest.raises(CausalError, match="NaN"):
        fit_ica(torch.full((10, 2), float("nan")))
    with pytest.raises(CausalError, match="singular"):
        fit_ica(torch.ones(10, 2))


def _fa_data(seed=0, n=800, p=5, k=2):
    gen = torch.Generator().manual_seed(seed)
    loadings = torch.randn(p, k, generator=gen, dtype=torch.float64)
    psi = 0.3 + torch.rand(p, generator=gen, dtype=torch.float64)
    z = torch.randn(n, k, generator=gen, dtype=torch.float64)
    return z @ loadings.T + psi * torch.randn(n, p, generator=gen, dtype=torch.float64) + 1.0


def test_factor_analysis_marginal_matches_scipy():
    x = _fa_data()
    lo = torch.randn(5, 2, dtype=torch.float64)
    psi = torch.full((5,), 0.7, dtype=torch.float64)
    mean = torch.ones(5, dtype=torch.float64)
    ref = multivariate_normal(mean.numpy(), (lo @ lo.T + torch.diag(psi**2)).numpy()).logpdf(x.numpy()).sum()
    assert float(factor_analysis_log_likelihood(x, lo, psi, mean)) == pytest.approx(ref, rel=1e-12)


def test_factor_analysis_is_rotation_invariant_exactly():
    x = _fa_data()
    fit = fit_factor_analysis(x, 2)
    assert fit.log_likelihood > float(factor_analysis_log_likelihood(x, fit.loadings * 0.5, fit.noise_scale, fit.mean))

    def ll(lo):
        return factor_analysis_log_likelihood(x, lo, fit.noise_scale, fit.mean)

    worst = assert_invariant(
        ll, fit.loadings, lambda lo, r: lo @ r, orthogonal_group(2), num_draws=10, rtol=1e-13, atol=0.0
    )
    assert worst <= 1e-13 * abs(fit.log_likelihood) * 10
    # A non-orthogonal map of the factors is no symmetry: the check notices.
    with pytest.raises(AssertionError, match="log-likelihood changed"):
        assert_invariant(ll, fit.loadings, lambda lo, g: lo @ g, lambda gen: torch.diag(torch.tensor([1.3, 0.8])))


def test_factor_analysis_joint_program_is_invariant_with_rotated_factors():
    """log p(x, z; L) = log p(x, Rᵀz; L R): the joint Pyro program, not only the marginal."""
    gen = torch.Generator().manual_seed(3)
    lo = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    psi = torch.full((4,), 0.5, dtype=torch.float64)
    z = torch.randn(2, generator=gen, dtype=torch.float64)
    x = torch.randn(4, generator=gen, dtype=torch.float64)
    r = orthogonal_group(2)(gen)

    def joint(lo, z):
        cond = poutine.condition(factor_analysis_model, {"x": x, "z": z})
        return float(poutine.trace(cond).get_trace(lo, psi).log_prob_sum())

    assert joint(lo @ r, r.T @ z) == pytest.approx(joint(lo, z), rel=1e-14, abs=0)
    assert not math.isclose(joint(lo @ r, z), joint(lo, z), rel_tol=1e-6)
