"""Every SCM the library ships is a Pyro program the queries accept, and the queries on it agree
with the SCM's own reference path (explicit equations, closed forms)."""

import numpy as np
import pyro
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy.stats import ks_2samp

import causalppl as cp
from causalppl.datasets import multiplicative_noise, nonlinear_anm, tanh_anm
from causalppl.identify import CRLParams, LinearSEM, crl_model
from causalppl.noise.families import NOISE_FAMILIES
from causalppl.testing import strategies as st

HEAVY = settings(max_examples=max(3, settings.default.max_examples // 3))

TRUTHS = {
    "nonlinear_anm": (nonlinear_anm, {"h": 1.0}, {"h": -1.0}, "y"),
    "tanh_anm": (lambda: tanh_anm(6, seed=3), {"x1": 1.0}, {"x1": -1.0}, "x5"),
    "multiplicative_noise": (multiplicative_noise, {"x": 1.5}, {"x": 0.5}, "y"),
}

# The laws hold for any intervention, also one that puts units where the site's own law almost
# never goes: that extrapolation warning (tested in tests/queries/test_overlap.py) is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")


def _units(ds, world):
    """``{node: [units]}`` of a one-sample counterfactual Dataset in ``world``."""
    return {n: torch.as_tensor(ds[n].sel(world=world).values[0]) for n in ds.data_vars}


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_known_scm_program_samples_the_reference_law(name):
    make, do, _, _ = TRUTHS[name]
    truth = make()
    for action in ({}, do):
        ours = cp.sample(truth.model, 4000, do=action, seed=1)
        ref = truth.sample(4000, seed=2, do=action)
        for node in truth.nodes:
            if node in action:
                assert np.all(ours[node].values == action[node])
                continue
            assert ks_2samp(ours[node].values, ref[node].numpy()).pvalue > 1e-3, (node, action)


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_known_scm_program_counterfactuals_are_the_reference_counterfactuals(name):
    make, do, _, _ = TRUTHS[name]
    truth = make()
    rows = truth.sample(50, seed=3)
    cf = cp.counterfactual(truth.model, evidence=rows, do=do, num_samples=1, seed=0)
    assert cf.attrs["abduction"] == "exact"
    expected = truth.counterfactual(rows, do)
    for node, value in _units(cf, "counterfactual").items():
        torch.testing.assert_close(value, expected[node], rtol=1e-10, atol=1e-10)
    for node, value in _units(cf, "factual").items():
        torch.testing.assert_close(value, rows[node], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_known_scm_program_effects_match_the_reference_effect(name):
    make, do, baseline, outcome = TRUTHS[name]
    truth = make()
    n = 20000
    noise = truth.noise(n, seed=5)
    paired = truth.push(noise, do)[outcome] - truth.push(noise, baseline)[outcome]
    tol = 5.0 * float(paired.std()) * (2.0 / n) ** 0.5 + 1e-9  # two independent Monte Carlo runs
    ours = cp.effect(truth.model, outcome, do=do, baseline=baseline, num_samples=n, seed=0)
    assert ours == pytest.approx(truth.effect(outcome, do, baseline, num_samples=n, seed=1), abs=tol)


def test_known_scm_program_has_the_closed_form_log_density():
    """Change of variables through each node's equation: the Gaussian densities of the ANMs and
    ``y | x ~ N(0, x²)`` of the multiplicative model."""
    normal = torch.distributions.Normal
    for truth, law in [
        (
            nonlinear_anm(),
            lambda v: (
                normal(0.0, 1.0).log_prob(v["x"])
                + normal(1.5 * torch.tanh(1.5 * v["x"]), 0.8).log_prob(v["h"])
                + normal(1.5 * torch.sin(1.2 * v["h"]) + 0.4 * v["x"] ** 2, 0.3).log_prob(v["y"])
            ),
        ),
        (
            multiplicative_noise(),
            lambda v: normal(0.0, 1.0).log_prob(v["x"]) + normal(0.0, v["x"].abs()).log_prob(v["y"]),
        ),
    ]:
        rows = truth.sample(30, seed=4)
        with pyro.plate("unit", 30):
            tr = poutine.trace(poutine.condition(truth.model, rows)).get_trace()
        torch.testing.assert_close(tr.log_prob_sum(), law(rows).sum(), rtol=1e-12, atol=1e-10)


def _shifted(graph, rows, do, mechanism):
    """Additive-noise counterfactual by hand: ``x*_j = m_j(x*) + (x_j - m_j(x))``."""
    out = {}
    for node in graph.nodes:
        if node in do:
            out[node] = torch.full_like(rows[node], do[node])
        else:
            out[node] = mechanism(node, out) + rows[node] - mechanism(node, rows)
    return out


@HEAVY
@given(
    scm=hst.one_of(st.linear_scms(hst.sampled_from(NOISE_FAMILIES), max_nodes=5), st.nonlinear_anms(max_nodes=5)),
    data=hst.data(),
)
def test_random_scm_counterfactuals_shift_every_descendant_by_its_mechanism(scm, data):
    do = data.draw(st.interventions(scm))
    rows = scm.sample(20, seed=1)
    cf = cp.counterfactual(scm.model, evidence=rows, do=do, num_samples=1)
    assert cf.attrs["abduction"] == "exact"
    expected = _shifted(scm.graph, rows, do, scm.mechanism)
    for node, value in _units(cf, "counterfactual").items():
        torch.testing.assert_close(value, expected[node], rtol=1e-9, atol=1e-9)


def _linear_sem(scm):
    nodes = scm.graph.nodes
    index = {n: i for i, n in enumerate(nodes)}
    weights = torch.zeros(len(nodes), len(nodes))
    for (p, c), w in scm.weights.items():
        weights[index[p], index[c]] = w
    return LinearSEM(
        scm.graph,
        nodes,
        weights,
        torch.tensor([scm.intercepts[n] for n in nodes]),
        torch.tensor([scm.scales[n] for n in nodes]),
        scm.noise,
    )


@HEAVY
@given(scm=st.linear_scms(hst.sampled_from(NOISE_FAMILIES), max_nodes=4), data=hst.data())
def test_linear_sem_program_has_the_closed_form_law_and_counterfactuals(scm, data):
    sem = _linear_sem(scm)
    do = data.draw(st.interventions(scm))
    mean, cov = scm.mean_cov(do=do)
    ds = cp.sample(sem.model, 20000, do=do, seed=0)
    x = np.stack([ds[n].values for n in scm.graph.nodes], -1)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(x.mean(0), mean, atol=float(5 * sd.max() / np.sqrt(20000)) + 1e-12)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.1 * max(1.0, float(np.abs(cov).max())))
    rows = scm.sample(20, seed=2)
    cf = cp.counterfactual(sem.model, evidence=rows, do=do, num_samples=1)
    expected = _shifted(scm.graph, rows, do, scm.mechanism)  # x* = x + the shift propagated by B
    for node, value in _units(cf, "counterfactual").items():
        torch.testing.assert_close(value, expected[node], rtol=1e-9, atol=1e-9)


@HEAVY
@given(ic=st.interventional_contexts(dim=hst.integers(2, 3)), data=hst.data())
def test_crl_model_samples_its_precision_and_shifts_latents_linearly(ic, data):
    params = CRLParams.from_contexts(ic)
    context = data.draw(hst.integers(0, len(params.targets)))
    ds = cp.sample(crl_model, 20000, seed=0, model_args=(params, context))
    d = params.weights.shape[0]
    z = torch.as_tensor(np.stack([ds[f"z{i}"].values for i in range(d)], -1))
    x = torch.as_tensor(ds["x"].values)
    torch.testing.assert_close(x @ params.unmixing.T, z)  # x = H⁻¹ z, sample by sample
    cov = torch.linalg.inv(params.precision(context))
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0.0, atol=0.1 * float(cov.abs().max()))

    latent = data.draw(hst.integers(0, d - 1))
    value = data.draw(hst.floats(-2.0, 2.0))
    rows = {f"z{i}": z[:10, i] for i in range(d)}
    cf = cp.counterfactual(
        crl_model, evidence=rows, do={f"z{latent}": value}, num_samples=1, model_args=(params, context)
    )
    assert cf.attrs["abduction"] == "exact"
    target = params.targets[context - 1] if context else None
    a = params.weights.clone()
    if target is not None:
        a[:, target] = 0.0  # the context's own hard intervention

    def mechanism(node, values):
        j = int(node[1:])
        return sum(a[i, j] * values[f"z{i}"] for i in range(d) if a[i, j] != 0) + torch.zeros(10)

    graph = cp.CausalGraph.from_adjacency((a != 0).int().numpy(), [f"z{i}" for i in range(d)])
    expected = _shifted(graph, rows, {f"z{latent}": value}, mechanism)
    got = _units(cf, "counterfactual")
    z_star = torch.stack([expected[f"z{i}"] for i in range(d)], -1)
    torch.testing.assert_close(torch.stack([got[f"z{i}"] for i in range(d)], -1), z_star, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got["x"], torch.linalg.solve(params.unmixing, z_star.T).T, rtol=1e-9, atol=1e-9)
