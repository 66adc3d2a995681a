"""The strategies generate valid objects, and their analytic laws match sampling."""

import math

import numpy as np
import pyro
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.noise.families import NOISE_FAMILIES, noise_distribution, standard_noise
from causalppl.testing import strategies as st

HEAVY = settings(max_examples=max(3, settings.default.max_examples // 3))


@given(st.dags(min_nodes=2, max_nodes=6, max_indegree=2))
def test_dags_are_valid(g):
    assert 2 <= len(g) <= 6
    assert set(g.nodes) == {f"x{i}" for i in range(len(g))}
    seen = set()
    for n in g.nodes:  # topological: parents come first
        assert set(g.parents(n)) <= seen
        assert len(g.parents(n)) <= 2
        seen.add(n)


@given(st.dags(max_indegree=0), st.dags(min_nodes=3, max_nodes=3, prefix="z"))
def test_dags_options_and_two_graphs_per_test_case(g, h):
    assert g.edges == []
    assert h.nodes and all(n.startswith("z") for n in h.nodes) and len(h) == 3


def test_dags_bad_arguments():
    with pytest.raises(CausalError, match="min_nodes"):
        find(st.dags(min_nodes=3, max_nodes=2), lambda g: True)


def _covariance_by_recursion(scm, do):
    """Reference path for mean_cov: propagate moments node by node (no matrix inverse)."""
    nodes = scm.graph.nodes
    mean, cov = {}, {}
    for n in nodes:
        if n in do:
            mean[n] = float(do[n])
            for m in mean:
                cov[(n, m)] = cov[(m, n)] = 0.0
            continue
        pa = scm.graph.parents(n)
        w = {p: scm.weights[(p, n)] for p in pa}
        mean[n] = scm.intercepts[n] + sum(w[p] * mean[p] for p in pa)
        for m in list(mean):
            if m == n:
                continue
            cov[(n, m)] = cov[(m, n)] = sum(w[p] * cov[(p, m)] for p in pa)
        cov[(n, n)] = sum(w[p] * w[q] * cov[(p, q)] for p in pa for q in pa) + scm.scales[n] ** 2
    return (np.array([mean[n] for n in nodes]), np.array([[cov[(a, b)] for b in nodes] for a in nodes]))


@given(scm=st.linear_scms(hst.sampled_from(NOISE_FAMILIES)), data=hst.data())
def test_mean_cov_matches_a_recursive_reference(scm, data):
    do = data.draw(hst.one_of(hst.just({}), st.interventions(scm)))
    mean, cov = scm.mean_cov(do=do)
    ref_mean, ref_cov = _covariance_by_recursion(scm, do)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-10)


# Random interventions may extrapolate; the closed-form moments hold regardless.
@pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")
@HEAVY
@given(
    scm=st.linear_scms(hst.sampled_from(NOISE_FAMILIES), max_nodes=4), data=hst.data(), seed=hst.integers(0, 2**31 - 1)
)
def test_mean_cov_matches_cp_sample_moments(scm, data, seed):
    do = data.draw(hst.one_of(hst.just({}), st.interventions(scm)))
    mean, cov = scm.mean_cov(do=do)
    n = 20000
    ds = cp.sample(scm.model, n, do=do, seed=seed)
    x = np.stack([ds[v].values for v in scm.graph.nodes], -1)
    sd = np.sqrt(np.diag(cov))
    # Means within 5 standard errors; covariances within 5 (normal-theory) standard errors,
    # widened by 2 for the heavier-tailed families.
    assert np.all(np.abs(x.mean(0) - mean) <= 5 * sd / math.sqrt(n) + 1e-9)
    emp = np.cov(x.T, ddof=0).reshape(cov.shape)
    se = np.sqrt((np.outer(sd, sd) ** 2 + cov**2) / n) * (2.0 if scm.noise == "student_t" else 1.5)
    assert np.all(np.abs(emp - cov) <= 5 * se + 1e-9)


@given(scm=hst.one_of(st.linear_scms(hst.sampled_from(NOISE_FAMILIES)), st.nonlinear_anms()))
def test_models_are_pyro_programs_with_the_drawn_graph(scm):
    assert cp.graph(scm.model) == scm.graph
    tr = poutine.trace(scm.model).get_trace()
    for n in scm.graph.nodes:
        site = tr.nodes[n]
        assert site["type"] == "sample" and site["value"].shape == ()
        assert torch.isfinite(site["value"])
    with pyro.plate("unit", 7):  # vectorises the Pyro way
        values = scm.model()
    assert all(v.shape == (7,) for v in values.values())


@given(scm=st.nonlinear_anms(max_nodes=6), seed=hst.integers(0, 2**31 - 1))
def test_nonlinear_anm_direct_sampler_matches_its_program_law(scm, seed):
    """RandomSCM.sample (torch, reference) and the Pyro program agree in distribution: same
    mechanisms given the same parents; the additive noise has the drawn sd."""
    x = scm.sample(4000, seed=seed)
    for n in scm.graph.nodes:
        assert torch.isfinite(x[n]).all()
        resid = x[n] - scm.mechanism(n, x)
        assert float(resid.mean()) == pytest.approx(0.0, abs=6 * scm.scales[n] / math.sqrt(4000))
        assert float(resid.std()) == pytest.approx(scm.scales[n], rel=0.1)


@pytest.mark.parametrize("family", NOISE_FAMILIES)
def test_noise_families_are_standardised(family):
    d = noise_distribution(family, torch.tensor(1.5), 2.0)
    assert float(d.mean) == pytest.approx(1.5)
    assert float(d.variance) == pytest.approx(4.0)
    u = standard_noise(family, 200000, torch.Generator().manual_seed(0))
    assert float(u.mean()) == pytest.approx(0.0, abs=0.02)
    assert float(u.var()) == pytest.approx(1.0, rel=0.05)


def test_equal_variance_and_intercept_options():
    scm = find(st.linear_gaussian_scms(equal_variance=True, min_nodes=4, max_nodes=4), lambda s: True)
    assert len(set(scm.scales.values())) == 1 and scm.noise == "gaussian_equal"
    scm = find(st.linear_scms("laplace", intercepts=False), lambda s: True)
    assert set(scm.intercepts.values()) == {0.0}
    with pytest.raises(CausalError, match="noise must be one of"):
        find(st.linear_scms("cauchy"), lambda s: True)
    with pytest.raises(CausalError, match="linear SCM"):
        find(st.nonlinear_anms(), lambda s: bool(s.graph.edges)).mean_cov()


@given(scm=st.linear_gaussian_scms(), data=hst.data())
def test_interventions_are_valid(scm, data):
    act = data.draw(st.interventions(scm, max_targets=3))
    assert 1 <= len(act) <= 3 and set(act) <= set(scm.graph.nodes)
    assert all(math.isfinite(v) and -3 <= v <= 3 for v in act.values())
    act = data.draw(st.interventions(scm.graph, values=hst.just(0.5)))
    assert set(act.values()) == {0.5}


def test_mean_cov_bad_interventions():
    scm = find(st.linear_gaussian_scms(min_nodes=2, max_nodes=2), lambda s: True)
    with pytest.raises(CausalError, match="'nope'"):
        scm.mean_cov(do={"nope": 1.0})
    with pytest.raises(CausalError, match="callable"):
        scm.mean_cov(do={"x0": lambda v: v + 1})


@given(st.invertible_linear_mixings(dim=hst.integers(1, 5), max_condition=4.0))
def test_linear_mixings_are_invertible_and_well_conditioned(mix):
    assert mix.condition_number <= 4.0 + 1e-9
    z = torch.randn(10, mix.matrix.shape[1], dtype=mix.matrix.dtype)
    torch.testing.assert_close(mix.inverse(mix(z)), z)


@given(st.invertible_linear_mixings(dim=2, obs_dim=hst.integers(2, 5)))
def test_tall_linear_mixings_have_full_column_rank(mix):
    assert torch.linalg.matrix_rank(mix.matrix) == 2
    z = torch.randn(10, 2, dtype=mix.matrix.dtype)
    torch.testing.assert_close(mix.inverse(mix(z)), z)


@given(
    mix=st.leaky_relu_mlp_mixings(dim=hst.integers(1, 4), layers=hst.integers(1, 3), max_condition=3.0),
    seed=hst.integers(0, 2**31 - 1),
)
def test_mlp_mixings_are_invertible_with_bounded_jacobian_condition(mix, seed):
    d = mix.weights[0].shape[0]
    z = torch.randn(20, d, generator=torch.Generator().manual_seed(seed), dtype=mix.weights[0].dtype)
    torch.testing.assert_close(mix.inverse(mix(z)), z)
    bound = 3.0 ** len(mix.weights) / mix.negative_slope ** (len(mix.weights) - 1)
    for row in z[:5]:
        jac = torch.autograd.functional.jacobian(mix, row)
        assert float(torch.linalg.cond(jac)) <= bound * (1 + 1e-9)


@given(
    model=st.segment_latent_models(dim=hst.integers(1, 3), mixing=hst.sampled_from(["mlp", "linear"])),
    seed=hst.integers(0, 1000),
)
def test_segment_latent_models_sample_their_law(model, seed):
    x, z, u = model.sample(2000, seed=seed)
    assert x.shape == z.shape == (2000 * model.n_segments, model.dim) and u.shape == (len(x),)
    assert model.n_segments == 2 * model.dim + 1
    torch.testing.assert_close(model.mixing(z), x)
    for k in range(model.n_segments):
        zk = z[u == k]
        ratio = zk.var(0) / model.variances[k]
        assert torch.all((ratio - 1).abs() < 0.2)
    g = cp.graph(model.model, torch.tensor(0))  # latents are nodes, even a lone one
    assert g.parents("x") == [f"z{i}" for i in range(model.dim)]


@HEAVY
@given(ic=st.interventional_contexts(dim=hst.integers(2, 4), obs_dim=hst.integers(4, 5)), seed=hst.integers(0, 1000))
def test_interventional_contexts_sample_each_context_law(ic, seed):
    xs, zs = ic.sample(5000, seed=seed)
    assert len(xs) == ic.n_contexts == 1 + len(ic.latent.graph)
    assert len(set(ic.targets)) == len(ic.targets)
    nodes = ic.latent.graph.nodes
    for k in range(ic.n_contexts):
        scm = ic.context_scm(k)
        _, cov = scm.mean_cov()
        order = [scm.graph.nodes.index(n) for n in nodes]  # mean_cov follows the context's order
        cov = cov[np.ix_(order, order)]
        emp = np.cov(zs[k].numpy().T)
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(emp - cov) <= 6 * np.outer(sd, sd) * math.sqrt(2 / 5000) + 1e-12)
        torch.testing.assert_close(xs[k], zs[k] @ ic.mixing.T)
        assert cp.graph(scm.model) == (ic.latent.graph.mutilate([ic.targets[k - 1]]) if k else ic.latent.graph)
        if k:  # the target lost its parents and its noise shrank
            t = ic.targets[k - 1]
            assert ic.intervention_scales[k - 1] < ic.latent.scales[t] / 1.69
