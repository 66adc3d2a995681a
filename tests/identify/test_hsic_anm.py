"""HSIC (gamma approximation against permutations) and the bivariate ANM direction test."""

import numpy as np
import pytest

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.identify import anm_direction, hsic_test, kernel_ridge_fit


def _pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    yield "independent", x, rng.normal(size=200)
    yield "uniform-independent", rng.uniform(size=200), rng.uniform(size=200)
    yield "weak", x, 0.3 * np.abs(x) + rng.normal(size=200)
    yield "strong", x, np.sin(2 * x) + 0.2 * rng.normal(size=200)


@pytest.mark.parametrize("name, x, y", list(_pairs()))
def test_gamma_pvalue_agrees_with_the_permutation_reference(name, x, y):
    gamma = hsic_test(x, y, method="gamma")
    perm = hsic_test(x, y, method="permutation", num_permutations=400, seed=1)
    assert gamma.statistic == perm.statistic
    # The permutation p-value has sd <= 0.025 at 400 shuffles; the gamma law is an approximation.
    assert gamma.pvalue == pytest.approx(perm.pvalue, abs=0.08)


def test_hsic_level_under_independence():
    rng = np.random.default_rng(3)
    pvals = np.array([hsic_test(rng.normal(size=150), rng.standard_t(3, size=150)).pvalue for _ in range(40)])
    # Expected 2 rejections at 5 %; P(Binomial(40, .05) >= 7) < 0.5 %.
    assert (pvals < 0.05).sum() <= 6
    assert 0.3 < pvals.mean() < 0.7


def test_hsic_bad_input():
    with pytest.raises(CausalError, match="at least 6"):
        hsic_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(CausalError, match="method"):
        hsic_test(np.arange(10.0), np.arange(10.0), method="exact")


def test_kernel_ridge_recovers_a_smooth_function():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 300)
    f = np.sin(2 * x)
    fit = kernel_ridge_fit(x, f + 0.1 * rng.normal(size=300))
    assert np.sqrt(np.mean((fit - f) ** 2)) < 0.05


def _cubic(seed, n=300):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, x + x**3 / 3 + 0.5 * rng.normal(size=n)


@pytest.mark.parametrize("seed", range(6))
def test_anm_forward_accepted_backward_rejected(seed):
    x, y = _cubic(seed)
    res = anm_direction(x, y, seed=seed)
    assert res.direction == "x->y", res
    assert res.pvalue_forward > 0.05 and res.pvalue_backward < 1e-3
    flipped = anm_direction(y, x, seed=seed)  # the same data with the roles swapped
    assert flipped.direction == "y->x"
    assert flipped.pvalue_forward == pytest.approx(res.pvalue_backward)


def test_linear_gaussian_control_is_undecided():
    """Both directions of a linear-Gaussian pair are valid ANMs: the test must not decide.
    Each decision needs one of two level-5 % tests to reject, so about 10 % of data sets
    decide by chance; P(Binomial(20, 0.1) >= 6) < 1.2 %."""
    decided = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        x = rng.normal(size=200)
        res = anm_direction(x, 0.8 * x + 0.6 * rng.normal(size=200), seed=seed)
        decided += res.direction != "undecided"
    assert decided <= 5


def test_anm_model_is_a_pyro_program_with_the_forward_graph():
    import torch

    model = cp.identify.anm_model(torch.tanh, 0.3)
    assert cp.graph(model).edges == [("x", "y")]


def test_anm_bad_input():
    with pytest.raises(CausalError, match="scalar"):
        anm_direction(np.ones((20, 2)), np.ones(20))
    with pytest.raises(CausalError, match="x is constant"):
        anm_direction(np.ones(20), np.arange(20.0))
    with pytest.raises(CausalError, match="alpha"):
        anm_direction(np.arange(20.0), np.arange(20.0), alpha=2.0)
