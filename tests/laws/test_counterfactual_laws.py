"""Counterfactual laws (Pearl; Monteiro et al. 2023) on random SCMs from the strategies."""

import numpy as np
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.handlers.twin_world import TwinWorldMessenger
from causalppl.noise import noise_model
from causalppl.testing import strategies as st

scms = hst.one_of(st.linear_gaussian_scms(max_nodes=5), st.nonlinear_anms(max_nodes=5))

# The laws hold for any intervention, also one that puts units where the site's own law almost
# never goes: that extrapolation warning (tested in tests/queries/test_overlap.py) is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")


def _unit(scm, seed, n=3):
    """Full evidence for ``n`` units drawn from the model."""
    ds = cp.sample(scm.model, n, seed=seed)
    return {k: torch.as_tensor(ds[k].values) for k in scm.graph.nodes}


def _cf(scm, evidence, do, **kw):
    return cp.counterfactual(scm.model, evidence=evidence, do=do, num_samples=2, seed=0, **kw)


@given(scm=scms, seed=hst.integers(0, 10_000))
def test_null_intervention_returns_the_factual_world_exactly(scm, seed):
    ev = _unit(scm, seed)
    cf = _cf(scm, ev, {})
    for n in scm.graph.nodes:
        assert np.array_equal(cf[n].sel(world="factual"), cf[n].sel(world="counterfactual")), n
    # Partial evidence too: whatever abduction does, no intervention means no change.
    part = {scm.graph.nodes[-1]: ev[scm.graph.nodes[-1]]}
    cf = cp.counterfactual(scm.model, evidence=part, do={}, num_samples=50, seed=1)
    for n in scm.graph.nodes:
        assert np.array_equal(cf[n].sel(world="factual"), cf[n].sel(world="counterfactual")), n


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 10_000))
def test_full_evidence_is_reproduced_and_interventions_are_effective(scm, data, seed):
    ev = _unit(scm, seed)
    actions = data.draw(st.interventions(scm))
    cf = _cf(scm, ev, actions)
    assert cf.attrs["abduction"] == "exact"
    for n in scm.graph.nodes:
        assert np.array_equal(cf[n].sel(world="factual").values, ev[n].expand(2, -1).numpy()), n
    for n, v in actions.items():
        assert np.all(cf[n].sel(world="counterfactual").values == np.float64(v))


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 10_000))
def test_composition_intervening_at_the_factual_value_changes_nothing(scm, data, seed):
    ev = _unit(scm, seed, n=1)
    targets = list(data.draw(st.interventions(scm)))
    cf = _cf(scm, {k: v[0] for k, v in ev.items()}, {t: float(ev[t][0]) for t in targets})
    for n in scm.graph.nodes:
        cfw, fw = cf[n].sel(world="counterfactual"), cf[n].sel(world="factual")
        np.testing.assert_allclose(cfw, fw, rtol=1e-10, atol=1e-10)


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 10_000))
def test_reversibility(scm, data, seed):
    ev = _unit(scm, seed)
    actions = data.draw(st.interventions(scm))
    first = _cf(scm, ev, actions)
    ev2 = {n: torch.as_tensor(first[n].sel(world="counterfactual").values[0]) for n in scm.graph.nodes}
    back = _cf(scm, ev2, {t: ev[t] for t in actions})
    for n in scm.graph.nodes:
        np.testing.assert_allclose(back[n].sel(world="counterfactual").values[0], ev[n].numpy(), rtol=1e-8, atol=1e-8)


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 10_000))
def test_exact_abduction_equals_the_inference_path_on_invertible_models(scm, data, seed):
    ev = _unit(scm, seed)
    actions = data.draw(st.interventions(scm))
    exact = _cf(scm, ev, actions, abduction="exact")
    inferred = _cf(scm, ev, actions, abduction="importance", num_particles=16)
    assert inferred.attrs["abduction"] == "importance"
    for n in scm.graph.nodes:
        np.testing.assert_allclose(exact[n].values, inferred[n].values, rtol=1e-12, atol=1e-12)


@given(scm=scms, seed=hst.integers(0, 10_000))
def test_twin_world_shares_noise_for_plain_distribution_sites(scm, seed):
    """No world draws fresh noise: the factual world of a twin pass is the plain program."""
    torch.manual_seed(seed)
    plain = poutine.trace(scm.model).get_trace()
    ev = {n: plain.nodes[n]["value"] for n in scm.graph.nodes}
    root = scm.graph.nodes[0]
    cf = _cf(scm, ev, {root: lambda v: v + 1.0})
    for n in scm.graph.nodes:
        # Every site's noise is recovered and reused, so the change is a deterministic function
        # of the evidence: both posterior samples agree exactly.
        a = cf[n].sel(world="counterfactual").values
        assert np.array_equal(a[0], a[1]), n


@given(scm=scms, seed=hst.integers(0, 10_000))
def test_the_twin_world_handler_reports_each_observed_sites_abducted_noise(scm, seed):
    """``TwinWorldMessenger.noise`` of an observed site (abducted only when read, when the
    worlds did not need it) is the exact inverse of its mechanism at the evidence."""
    torch.manual_seed(seed)
    plain = poutine.trace(scm.model).get_trace()
    ev = {n: plain.nodes[n]["value"] for n in scm.graph.nodes}
    with TwinWorldMessenger(actions={scm.graph.nodes[0]: 0.0}, evidence=ev, dim=-1) as tw:
        scm.model()
    assert set(tw.noise) == set(scm.graph.nodes)
    for n in scm.graph.nodes:
        fn = plain.nodes[n]["fn"]
        want = noise_model(fn, n).abduct(ev[n])
        torch.testing.assert_close(tw.noise[n].reshape(want.shape), want, rtol=1e-9, atol=1e-9)
