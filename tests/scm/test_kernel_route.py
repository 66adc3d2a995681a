"""NeuralSCM's fast paths through the Triton kernels (interpreter on CPU) == the torch path."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.kernels import use_backend
from causalppl.scm import NeuralSCM, kernel_route
from causalppl.testing import strategies as cst

pytestmark = pytest.mark.interpreter


def _draw(scm, n, seed, do=None):
    """``n`` draws of every node as tensors (through the public query)."""
    ds = cp.sample(scm, n, seed=seed, do=do)
    return {v: torch.as_tensor(ds[v].values) for v in scm.nodes}


def _close(a, b, what):
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=lambda m: f"{what}: {m}")


@hst.composite
def kernel_scms(draw):
    graph = draw(cst.dags(min_nodes=1, max_nodes=5, max_indegree=3))
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
    return scm


@settings(max_examples=8)
@given(kernel_scms(), hst.integers(1, 9))
def test_log_prob_and_gradients_through_interpreter_equal_torch(scm, n):
    assert scm.layout.kernel_ready
    with torch.no_grad():
        data = _draw(scm, n, 0)
    params = list(scm.parameters())
    ref = scm.log_prob(data)
    ref_grads = torch.autograd.grad(ref.sum(), params)
    with use_backend("interpret"):
        assert kernel_route.routed(scm)
        out = scm.log_prob(data)
        grads = torch.autograd.grad(out.sum(), params)
    _close(out, ref, "log_prob")
    for g, r in zip(grads, ref_grads):
        _close(g, r, "gradient")


@settings(max_examples=6)
@given(kernel_scms(), hst.data())
def test_abduction_sampling_counterfactuals_through_interpreter_equal_torch(scm, data):
    n = data.draw(hst.integers(1, 7))
    target = data.draw(hst.sampled_from(scm.nodes))
    do = {target: data.draw(hst.floats(-2, 2))}
    with torch.no_grad():
        values = _draw(scm, n, 1)
        ref_u = scm.abduct(values)
        paths = scm.batched_paths()
        ref_s, ref_flags = paths.push(ref_u, do)
        ref_cf, _ = paths.counterfactual(values, do)
        with use_backend("interpret"):
            u = scm.abduct(values)
            s, flags = paths.push(ref_u, do)
            cf, _ = paths.counterfactual(values, do)
            assert {k: v.tolist() for k, v in flags.items()} == {k: v.tolist() for k, v in ref_flags.items()}
    for v in scm.nodes:
        _close(u[v], ref_u[v], f"noise {v}")
        _close(s[v], ref_s[v], f"sample {v}")
        _close(cf[v], ref_cf[v], f"counterfactual {v}")
        if v not in do and v not in set().union(*(scm.graph.descendants(t) for t in do)):
            assert torch.equal(cf[v], values[v])  # untouched nodes keep their observed values
