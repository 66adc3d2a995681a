"""Pairs of paths that compute one thing agree: the stacked evaluation of a NeuralSCM and the
kernels' plain-torch reference, cp.effect's paired and unpaired estimates, and the two
readings of a program's descendants."""

import contextlib
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.kernels import use_backend
from causalppl.kernels.mechanism import reference
from causalppl.mechanisms.heads import ADDITIVE, additive_scale
from causalppl.program import probe
from causalppl.queries.effect import _unpaired
from causalppl.scm import NeuralSCM, _stacked, fast
from causalppl.testing import strategies as cst

MLP_PATHS = ["reference", "blocked"]  # what _stacked.raw may run the stacked MLP through


@hst.composite
def kernel_ready_scms(draw):
    """NeuralSCMs the kernels implement: every node scalar, additive or location-scale."""
    graph = draw(cst.dags(min_nodes=1, max_nodes=6, max_indegree=3))
    torch.manual_seed(draw(cst.seeds()))
    scm = NeuralSCM(
        graph,
        mechanism=draw(hst.sampled_from(["additive", "location_scale"])),
        hidden=draw(hst.sampled_from([(), (4,), (5, 3)])),
        activation=draw(hst.sampled_from(["tanh", "relu", "silu"])),
    )
    with torch.no_grad():
        scm.feature_loc.uniform_(-1, 1)
        scm.feature_scale.uniform_(0.5, 2)
    assert scm.layout.kernel_ready
    return scm


def _network(scm):
    """The kernels' arguments for the SCM's bank: the two share one parameter layout."""
    bank = scm.bank
    scale = additive_scale(bank.raw_scale[:, 0]) if scm.layout.bank_kinds == [ADDITIVE] else None
    return (scm.parent_index, scm.parent_mask, bank.weights(), bank.biases(), bank.activation), scale


@contextlib.contextmanager
def _mlp_path(name):
    """The stacked MLP through the reference or the blocked path, whatever the shape."""
    with use_backend("torch"), fast.stacked_options(mlp=name):
        yield


def _close(a, b, what):
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=lambda m: f"{what}: {m}")


@pytest.mark.parametrize("path", MLP_PATHS)
@settings(max_examples=15, deadline=None)
@given(scm=kernel_ready_scms(), n=hst.integers(1, 40))
def test_stacked_abduction_and_log_density_equal_the_kernel_reference(path, scm, n):
    with torch.no_grad():
        values = {v: torch.as_tensor(cp.sample(scm, n, seed=0)[v].values) for v in scm.nodes}
    X = fast.encode_all(scm, values)
    net, scale = _network(scm)
    params = list(scm.parameters())
    with _mlp_path(path):
        snap = _stacked.snapshot(scm)
        g = _stacked.group(scm, tuple(scm.layout.bank_nodes))
        u, lp = _stacked.abduct_bank(snap, g, _stacked.raw(snap, g, X), X.index_select(1, g.cols).T)
        _, _, ref_u, ref_lp = reference.mechanism_forward(X, *net, scale=scale)
        grads = torch.autograd.grad(lp.sum(), params, allow_unused=True)
        ref_grads = torch.autograd.grad(ref_lp.sum(), params, allow_unused=True)
    _close(u.T, ref_u, "noise")
    _close(lp.sum(0), ref_lp, "log density")
    for a, b in zip(grads, ref_grads):
        if b is not None:
            _close(a, b, "gradient")


@pytest.mark.parametrize("path", MLP_PATHS)
@settings(max_examples=15, deadline=None)
@given(scm=kernel_ready_scms(), data=hst.data())
def test_stacked_sampling_and_counterfactuals_equal_the_kernel_reference(path, scm, data):
    n, nodes = data.draw(hst.integers(1, 40)), scm.nodes
    target = data.draw(hst.sampled_from(nodes))
    do = {target: data.draw(hst.floats(-2, 2))}
    j = nodes.index(target)
    net, scale = _network(scm)
    u = torch.randn(n, len(nodes), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([v == target for v in nodes])
    value = torch.full((n, len(nodes)), (do[target] - scm.feature_loc[j].item()) / scm.feature_scale[j].item())
    order = torch.arange(len(nodes))
    loc, sd = scm.feature_loc, scm.feature_scale
    with torch.no_grad(), _mlp_path(path):
        drawn = fast.sample(scm, n, do=do, noise=dict(zip(nodes, u.T)))
        ref = loc + sd * reference.mechanism_sample(u, *net, order, scale, mask.expand(n, -1), value)
        for i, v in enumerate(nodes):
            _close(drawn[v], ref[:, i], f"sample {v}")
        observed = loc + sd * reference.mechanism_sample(u, *net, order, scale)
        cf = fast.counterfactual(scm, dict(zip(nodes, observed.T)), do)
        keep = torch.tensor([v != target and v not in scm.graph.descendants(target) for v in nodes])
        x = (observed - loc) / sd
        ref_u = reference.mechanism_forward(x, *net, scale=scale)[2]
        ref_cf = reference.mechanism_sample(
            ref_u, *net, order, scale, (mask | keep).expand(n, -1), torch.where(keep, x, value)
        )
    for i, v in enumerate(nodes):
        _close(cf[v], loc[i] + sd[i] * ref_cf[:, i], f"counterfactual {v}")


def _mediated():
    """x -> m -> y and x -> y, with a noise scale that depends on x: pairing the worlds
    does not make the estimate exact, so both estimates carry Monte Carlo error."""
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    m = pyro.sample("m", dist.Normal(torch.tanh(x), 0.5))
    return pyro.sample("y", dist.Normal(2.0 * m + x, torch.exp(0.5 * x)))


def test_effect_unpaired_fallback_agrees_with_the_paired_path():
    n, do, baseline = 20000, {"x": 1.0}, {"x": 0.0}
    paired = cp.effect(_mediated, "y", do=do, baseline=baseline, num_samples=n, seed=0)
    unpaired = _unpaired(_mediated, "y", do, baseline, n, 1, (), {})
    truth = 2 * math.tanh(1.0) + 1.0
    # Var(y | do(x)) = 4 * 0.25 + e^x: the unpaired estimate's sd bounds the paired one's
    sd = math.sqrt((1 + math.e + 1 + 1) / n)
    assert abs(paired - truth) < 4 * sd
    assert abs(unpaired - truth) < 4 * sd
    assert abs(paired - unpaired) < 4 * math.sqrt(2) * sd


@settings(max_examples=25, deadline=None)
@given(scm=hst.one_of(cst.linear_scms(), cst.nonlinear_anms()))
def test_program_descendants_equal_the_graph_descendants(scm):
    info = probe(scm.model, cache=False)
    for v in scm.graph.nodes:
        assert info.descendants(v) == scm.graph.descendants(v), v
        assert cp.graph(scm.model).descendants(v) == scm.graph.descendants(v), v
