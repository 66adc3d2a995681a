"""Handler laws on random SCMs drawn by causalppl.testing.strategies."""

import numpy as np
import pyro
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.testing import strategies as st

scms = hst.one_of(st.linear_gaussian_scms(max_nodes=5), st.nonlinear_anms(max_nodes=5))

# The laws hold for any intervention, also one that puts units where the site's own law almost
# never goes: that extrapolation warning (tested in tests/queries/test_overlap.py) is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")


def _trace(model, seed):
    torch.manual_seed(seed)
    return poutine.trace(model).get_trace()


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 2**31 - 1))
def test_do_is_idempotent(scm, data, seed):
    actions = data.draw(st.interventions(scm))
    once = _trace(cp.do(scm.model, actions), seed)
    twice = _trace(cp.do(cp.do(scm.model, actions), actions), seed)
    for n in scm.graph.nodes:
        assert torch.equal(once.nodes[n]["value"], twice.nodes[n]["value"]), n


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 2**31 - 1))
def test_trace_of_do_is_do_of_trace(scm, data, seed):
    actions = data.draw(st.interventions(scm))
    a = _trace(cp.do(scm.model, actions), seed)
    torch.manual_seed(seed)
    with cp.do(actions=actions):
        b = poutine.trace(scm.model).get_trace()
    for n in scm.graph.nodes:
        assert torch.equal(a.nodes[n]["value"], b.nodes[n]["value"]), n
    assert cp.graph(cp.do(scm.model, actions)) == scm.graph.mutilate(actions)


@given(scm=scms, data=hst.data(), seed=hst.integers(0, 2**31 - 1))
def test_do_leaves_non_descendants_unchanged(scm, data, seed):
    """Unit level: with shared noise, sites that are not descendants of a target do not move."""
    actions = data.draw(st.interventions(scm))
    torch.manual_seed(seed)
    with poutine.trace() as tr, cp.twin_world(actions=actions, dim=-2), pyro.plate("s", 8, dim=-1):
        scm.model()
    moved = set(actions).union(*(scm.graph.descendants(a) for a in actions))
    for n in scm.graph.nodes:
        v = tr.trace.nodes[n]["value"]
        if n not in moved:
            assert torch.equal(v[0], v[1]), n


@given(scm=st.linear_gaussian_scms(max_nodes=4), data=hst.data(), seed=hst.integers(0, 1000))
def test_interventional_law_matches_closed_form(scm, data, seed):
    actions = data.draw(st.interventions(scm))
    mean, cov = scm.mean_cov(do=actions)
    ds = cp.sample(scm.model, 4000, do=actions, seed=seed)
    for i, n in enumerate(scm.graph.nodes):
        x = ds[n].values
        sd = np.sqrt(cov[i][i])
        assert abs(x.mean() - mean[i]) <= 5 * sd / np.sqrt(len(x)) + 1e-9, n
        if sd > 1e-9:
            assert x.std() == pytest.approx(sd, rel=0.15), n
