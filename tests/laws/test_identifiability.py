"""The identifiability theorem suite: draw a ground truth that satisfies a theorem's
assumptions, fit, and assert recovery up to the theorem's equivalence class — beside a
null control — or, for non-identifiability results, invariance of the likelihood.

Statistical properties run derandomized (the same examples every run, like fixed seeds)
and with fewer examples than the profile's default; the ``fuzz`` profile scales them up.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from causalppl.identify import (
    anm_direction,
    factor_analysis_log_likelihood,
    fit_equal_variance_sem,
    fit_ica,
    fit_linear_sem,
    fit_lingam,
    ica_log_likelihood,
    whiten,
)
from causalppl.metrics import amari_index, markov_equivalence_class, mcc, shd
from causalppl.noise.families import standard_noise
from causalppl.testing import assert_identifiable, assert_invariant, orthogonal_group
from causalppl.testing import strategies as st

STATISTICAL = settings(max_examples=max(4, settings.default.max_examples // 3), derandomize=True)


def rotation_null(z, x, draws=20, seed=0):
    """MCC of the average representation that decorrelation alone allows: whitened
    observations under Haar-random rotations."""
    xw = whiten(x)[0]
    gen = torch.Generator().manual_seed(seed)
    return float(np.mean([mcc(z, xw @ orthogonal_group(xw.shape[1])(gen)) for _ in range(draws)]))


@STATISTICAL
@given(
    mixing=st.invertible_linear_mixings(dim=hst.integers(2, 4), max_condition=5.0),
    family=hst.sampled_from(["laplace", "uniform", "student_t"]),
    seed=st.seeds(),
)
def test_linear_ica_identifies_non_gaussian_sources(mixing, family, seed):
    d = mixing.matrix.shape[1]
    gen = torch.Generator().manual_seed(seed)
    s = torch.stack([standard_noise(family, 2000, gen) for _ in range(d)], -1)
    x = mixing(s)
    fit = fit_ica(x, seed=0)
    assert_identifiable(mcc(s, fit.sources), rotation_null(s, x), floor=0.95, margin=0.05)
    assert amari_index(fit.unmixing, mixing.matrix) <= 0.1


@given(dim=hst.integers(2, 5), seed=st.seeds())
def test_gaussian_sources_ica_likelihood_is_rotation_invariant(dim, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(200, dim, generator=gen, dtype=torch.float64)
    w = torch.randn(dim, dim, generator=gen, dtype=torch.float64) + 2 * torch.eye(dim, dtype=torch.float64)

    assert_invariant(
        lambda w: ica_log_likelihood(x, w, "gaussian"),
        w,
        lambda w, r: r @ w,
        orthogonal_group(dim),
        seed=seed % 1000,
        rtol=1e-12,
        atol=0.0,
    )


@given(p=hst.integers(3, 6), k=hst.integers(1, 2), seed=st.seeds())
def test_factor_analysis_is_rotation_invariant_exactly(p, k, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(100, p, generator=gen, dtype=torch.float64)
    loadings = torch.randn(p, k, generator=gen, dtype=torch.float64)
    psi = 0.2 + torch.rand(p, generator=gen, dtype=torch.float64)
    # With one factor the group O(1) = {+1, -1}: draw its non-trivial element.
    group = orthogonal_group(k) if k > 1 else (lambda gen: -torch.eye(1, dtype=torch.float64))
    assert_invariant(
        lambda lo: factor_analysis_log_likelihood(x, lo, psi),
        loadings,
        lambda lo, r: lo @ r,
        group,
        rtol=1e-12,
        atol=0.0,
    )


@STATISTICAL
@given(scm=st.linear_scms(hst.sampled_from(["laplace", "uniform", "student_t"]), max_nodes=5), seed=st.seeds())
def test_lingam_recovers_the_dag_of_a_non_gaussian_linear_sem(scm, seed):
    x = scm.data_matrix(2000, seed=seed % 2**31)
    fit = fit_lingam(x, scm.graph.nodes, alpha=1e-4)
    assert shd(scm.graph, fit.graph) == 0
    truth = fit_linear_sem(x, scm.graph, scm.graph.nodes).weights
    torch.testing.assert_close(fit.weights, truth)  # same graph, same OLS weights


@STATISTICAL
@given(scm=st.linear_gaussian_scms(equal_variance=True, max_nodes=6), seed=st.seeds())
def test_equal_variance_gaussian_sem_is_identified(scm, seed):
    x = scm.data_matrix(1000, seed=seed % 2**31)
    fit = fit_equal_variance_sem(x, scm.graph.nodes, alpha=1e-4)
    assert shd(scm.graph, fit.graph) == 0
    sd = next(iter(scm.scales.values()))
    assert float(fit.scales[0]) == pytest.approx(sd, rel=0.1)


@STATISTICAL
@given(scm=st.linear_gaussian_scms(max_nodes=5), seed=st.seeds())
def test_linear_gaussian_sem_is_identified_only_up_to_its_equivalence_class(scm, seed):
    """Every DAG of the Markov equivalence class reaches the same maximum likelihood (to
    float rounding); removing a true edge costs likelihood."""
    x = scm.data_matrix(500, seed=seed % 2**31)
    nodes = scm.graph.nodes
    best = [float(fit_linear_sem(x, g, nodes).log_likelihood(x)) for g in markov_equivalence_class(scm.graph)]
    assert len(best) >= 1
    assert max(best) - min(best) <= 1e-9 * abs(best[0])
    for p, c in scm.graph.edges:
        parents = scm.graph.parents_dict()
        parents[c] = [q for q in parents[c] if q != p]
        assert float(fit_linear_sem(x, parents, nodes).log_likelihood(x)) < best[0] - 10.0


@STATISTICAL
@given(b=hst.floats(0.25, 0.5), sd=hst.floats(0.3, 0.6), seed=st.seeds())
def test_anm_direction_of_a_nonlinear_pair(b, sd, seed):
    """y = x + b x³ + noise: forward accepted and backward rejected at level 1e-3 (the
    forward test falsely rejects one data set in a thousand)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=400)
    y = x + b * x**3 + sd * rng.normal(size=400)
    res = anm_direction(x, y, alpha=1e-3)
    assert res.direction == "x->y", res
