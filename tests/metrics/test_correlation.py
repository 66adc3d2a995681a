"""MCC, weak MCC, Amari index and R² against independently computed reference values."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst
from scipy.stats import spearmanr

from causalppl.errors import CausalError
from causalppl.metrics import amari_index, correlation_matrix, matched_correlations, mcc, r2, weak_mcc

seeds = hst.integers(0, 2**31 - 1)


def brute_force_mcc(a, b, method="pearson"):
    """Best mean |corr| over every injective assignment (itertools, no Hungarian)."""
    d1, d2 = a.shape[1], b.shape[1]
    corr = np.empty((d1, d2))
    for i in range(d1):
        for j in range(d2):
            if method == "pearson":
                corr[i, j] = np.corrcoef(a[:, i], b[:, j])[0, 1]
            else:
                corr[i, j] = spearmanr(a[:, i], b[:, j]).statistic
    k = min(d1, d2)
    best = 0.0
    for rows in itertools.combinations(range(d1), k):
        for cols in itertools.permutations(range(d2), k):
            best = max(best, np.mean([abs(corr[r, c]) for r, c in zip(rows, cols)]))
    return best


@given(seed=seeds, d1=hst.integers(1, 4), d2=hst.integers(1, 4), method=hst.sampled_from(["pearson", "spearman"]))
def test_mcc_matches_brute_force_permutation_search(seed, d1, d2, method):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(60, d1))
    b = a[:, rng.integers(0, d1, d2)] * rng.normal(size=d2) + rng.normal(size=(60, d2))
    assert mcc(a, b, method) == pytest.approx(brute_force_mcc(a, b, method), abs=1e-12)


@given(seed=seeds, d=hst.integers(1, 6), method=hst.sampled_from(["pearson", "spearman"]))
def test_a_permuted_scaled_shifted_copy_scores_one(seed, d, method):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(200, d))
    perm = rng.permutation(d)
    scale = rng.uniform(0.2, 5.0, d) * rng.choice([-1.0, 1.0], d)
    z_hat = z[:, perm] * scale + rng.normal(size=d)
    assert mcc(torch.as_tensor(z), z_hat, method) == pytest.approx(1.0, abs=1e-12)
    rows, cols, corr = matched_correlations(z, z_hat, method)
    assert rows.tolist() == list(range(d))
    assert np.array_equal(perm[cols], np.arange(d))  # z_hat[:, cols[i]] is z[:, i]
    assert np.allclose(np.sign(corr), np.sign(scale[cols]))


def test_monotone_maps_keep_spearman_at_one_but_not_pearson():
    z = np.random.default_rng(0).normal(size=(500, 2))
    warped = np.column_stack([np.exp(2 * z[:, 1]), z[:, 0] ** 3])
    assert mcc(z, warped, "spearman") == pytest.approx(1.0, abs=1e-12)
    assert mcc(z, warped, "pearson") < 0.95


def test_independent_draws_score_the_finite_sample_null():
    """The null of MCC is not 0 at finite n: simulate it, and check a fresh pair against it."""
    n, d, reps = 100, 3, 300
    rng = np.random.default_rng(1)
    null = np.array([mcc(rng.normal(size=(n, d)), rng.normal(size=(n, d))) for _ in range(reps)])
    lo, hi = np.quantile(null, [0.005, 0.995])
    observed = [mcc(rng.normal(size=(n, d)), rng.uniform(size=(n, d))) for _ in range(20)]
    assert 0.05 < null.mean() < 0.2  # positive bias of the matched |corr|, about 1/sqrt(n) scale
    assert sum(lo <= v <= hi for v in observed) >= 18
    assert all(v < 0.4 for v in observed)


def test_mcc_range_and_rectangular_inputs():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(300, 3))
    extra = np.column_stack([z[:, 1], rng.normal(size=300), z[:, 0], z[:, 2]])
    assert mcc(z, extra) == pytest.approx(1.0, abs=1e-12)  # every true component found
    assert 0.0 <= mcc(extra, z) <= 1.0
    const = np.column_stack([z[:, 0], np.ones(300)])
    assert correlation_matrix(z[:, :2], const)[1, 1] == 0.0


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones((5, 2)), np.ones((4, 2))), "z_hat has 4"),
        ((np.full((5, 2), np.nan), np.ones((5, 2))), "z_true contains NaN"),
        ((np.ones((5, 2, 2)), np.ones((5, 2))), "z_true must be a matrix"),
        ((np.ones((5, 2)), np.ones((5, 2)), "kendall"), "method"),
    ],
)
def test_bad_input_names_the_argument(args, match):
    with pytest.raises(CausalError, match=match):
        mcc(*args)


@given(seed=seeds, d=hst.integers(1, 4))
def test_weak_mcc_is_invariant_to_invertible_linear_maps_and_matches_cca(seed, d):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(150, d))
    a = rng.normal(size=(d, d)) + 3 * np.eye(d)
    assert weak_mcc(z, z @ a + 1.0) == pytest.approx(1.0, abs=1e-9)
    # Reference: canonical correlations are the sqrt-eigenvalues of S11^-1 S12 S22^-1 S21.
    b = 0.5 * z @ a + rng.normal(size=(150, d))
    s = np.cov(np.column_stack([z, b]).T)
    s11, s12, s22 = s[:d, :d], s[:d, d:], s[d:, d:]
    ev = np.linalg.eigvals(np.linalg.solve(s11, s12) @ np.linalg.solve(s22, s12.T)).real
    assert weak_mcc(z, b) == pytest.approx(np.sqrt(np.clip(ev, 0, 1)).mean(), abs=1e-9)


def reference_amari(p):
    p = np.abs(p)
    d = len(p)
    total = 0.0
    for i in range(d):
        total += sum(p[i, j] for j in range(d)) / max(p[i]) - 1
    for j in range(d):
        total += sum(p[i, j] for i in range(d)) / max(p[:, j]) - 1
    return total / (2 * d * (d - 1))


@given(seed=seeds, d=hst.integers(2, 5))
def test_amari_index_reference_and_invariances(seed, d):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    w = rng.normal(size=(d, d))
    assert amari_index(w, a) == pytest.approx(reference_amari(w @ a), abs=1e-12)
    assert 0.0 <= amari_index(w, a) <= 1.0
    scaled_perm = np.diag(rng.uniform(0.5, 2, d) * rng.choice([-1, 1], d))[rng.permutation(d)]
    assert amari_index(scaled_perm @ np.linalg.inv(a), a) == pytest.approx(0.0, abs=1e-9)


def test_amari_bad_input():
    with pytest.raises(CausalError, match="square"):
        amari_index(np.ones((2, 3)))
    with pytest.raises(CausalError, match="all-zero"):
        amari_index(np.zeros((2, 2)))


@given(seed=seeds, d=hst.integers(1, 4))
def test_r2_affine_linear_and_elementwise(seed, d):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, size=(200, d))
    a = rng.normal(size=(d, d)) + 3 * np.eye(d)
    assert r2(z, z @ a + 2.0) == pytest.approx(1.0, abs=1e-9)
    assert r2(z - z.mean(0), (z - z.mean(0)) @ a, kind="linear") == pytest.approx(1.0, abs=1e-9)
    # With an offset and no intercept the linear fit must lose something.
    assert r2(z, z @ a + 5.0, kind="linear") < 1.0 - 1e-6
    # Elementwise: each true component is a cubic of one (permuted) estimated component.
    perm = rng.permutation(d)
    assert r2(z[:, perm] ** 3 + z[:, perm], z, kind="elementwise") == pytest.approx(1.0, abs=1e-9)
    assert r2(z[:, perm] ** 3 + z[:, perm], z, kind="elementwise", degree=1) < 1.0 - 1e-6
    # One column: affine R² is the squared Pearson correlation.
    noisy = z[:, :1] + rng.normal(size=(200, 1))
    assert r2(z[:, :1], noisy) == pytest.approx(np.corrcoef(z[:, 0], noisy[:, 0])[0, 1] ** 2, abs=1e-12)


def test_r2_per_component_and_bad_kind():
    z = np.random.default_rng(3).normal(size=(100, 2))
    per = r2(z, np.column_stack([z[:, 0], np.random.default_rng(4).normal(size=100)]), reduce=False)
    assert per.shape == (2,) and per[0] == pytest.approx(1.0) and per[1] < 0.2
    with pytest.raises(CausalError, match="kind"):
        r2(z, z, kind="quadratic")
