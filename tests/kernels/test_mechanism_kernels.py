"""Triton mechanism kernels against the torch reference: values and every gradient.

Interpreter tests run the kernels on CPU (``TRITON_INTERPRET=1``); the fp32 kernels are
compared with the float64 reference within fp32 tolerances (``assert_close_fp32``).
"""

import pytest
import torch
from hypothesis import strategies as st

from causalppl.kernels import mechanism_forward, mechanism_sample, use_backend
from causalppl.kernels.mechanism import kernel_supports, reference
from causalppl.kernels.testing import assert_close_fp32, assert_matches_reference, random_mechanism

OUTPUTS = ("loc", "scale", "u", "log_prob")


def mechanism_shapes(max_batch, max_nodes, max_parents, max_hidden, **extra):
    """A random stacked mechanism and batch (what ``draw`` reads), then the ``extra`` entries."""
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 2**31 - 1),
            "batch": st.integers(1, max_batch),
            "nodes": st.integers(1, max_nodes),
            "max_parents": st.integers(1, max_parents),
            "hidden": st.lists(st.integers(1, max_hidden), max_size=2).map(tuple),
            "outputs": st.sampled_from([1, 2]),
            "activation": st.sampled_from(["tanh", "relu", "silu"]),
            **extra,
        }
    )


def kernel_shapes(max_batch, max_nodes, max_hidden):
    return mechanism_shapes(
        max_batch,
        max_nodes,
        4,
        max_hidden,
        soft_mask=st.booleans(),
        used=st.sets(st.sampled_from(OUTPUTS), min_size=1),
        x_grad=st.booleans(),
    )


def draw(s, device="cpu"):
    net = random_mechanism(
        s["seed"],
        s["nodes"],
        s["max_parents"],
        s["hidden"],
        s["outputs"],
        soft_mask=s.get("soft_mask", False),
        device=device,
    )
    gen = torch.Generator().manual_seed(s["seed"] + 1)
    x = torch.randn(s["batch"], s["nodes"], generator=gen).to(device)
    return net, x


def check_forward_and_gradients(s, backend_name, device="cpu"):
    net, x = draw(s, device)
    params = [p.requires_grad_() for p in net.params()]
    x.requires_grad_(s["x_grad"])
    inputs = params + ([x] if s["x_grad"] else [])
    want = reference.mechanism_forward(x, *net.args(), s["activation"], net.scale)
    with use_backend(backend_name):
        got = mechanism_forward(x, *net.args(), s["activation"], net.scale)
    assert_matches_reference(got, want, OUTPUTS, inputs, seed=s["seed"] + 2, used=s["used"])


FORWARD_CASES = {  # kernel_case: (max_examples, shapes)
    "interpret": (20, kernel_shapes(max_batch=150, max_nodes=5, max_hidden=33)),
    "interpret-many": (40, kernel_shapes(max_batch=256, max_nodes=8, max_hidden=32)),
    "gpu": (20, kernel_shapes(max_batch=5000, max_nodes=12, max_hidden=128)),
}


def test_forward_and_gradients_match_reference(kernel_case):
    kernel_case(check_forward_and_gradients, FORWARD_CASES)


sample_shapes = mechanism_shapes(150, 6, 3, 20, intervene=st.sampled_from(["none", "nodes", "rows"]))


def check_sampling(s, backend_name, device="cpu"):
    net, u = draw(s, device)
    mask = value = None
    gen = torch.Generator().manual_seed(s["seed"] + 3)
    if s["intervene"] == "nodes":
        mask = (torch.rand(s["nodes"], generator=gen) < 0.4).to(device)
        value = torch.randn(s["nodes"], generator=gen).to(device)
    elif s["intervene"] == "rows":
        mask = (torch.rand(s["batch"], s["nodes"], generator=gen) < 0.4).to(device)
        value = torch.randn(s["batch"], s["nodes"], generator=gen).to(device)
    want = reference.mechanism_sample(
        u,
        *net.args(),
        s["activation"],
        net.order,
        net.scale,
        None if mask is None else torch.broadcast_to(mask, u.shape),
        None if value is None else torch.broadcast_to(value, u.shape),
    )
    for variant in ("dag", "level"):
        with use_backend(backend_name):
            got = mechanism_sample(u, *net.args(), s["activation"], net.order, net.scale, mask, value, variant=variant)
        assert got.dtype == want.dtype
        assert_close_fp32(got, want, rtol=5e-5, name=f"x ({variant})")


def test_sampling_variants_match_reference(kernel_case):
    kernel_case(check_sampling, {"interpret": (15, sample_shapes), "gpu": (20, sample_shapes)})


@pytest.mark.interpreter
def test_sampling_with_autograd_takes_the_differentiable_path():
    net = random_mechanism(5, nodes=3, max_parents=2, hidden=(4,), outputs=2)
    u = torch.randn(10, 3, requires_grad=True)
    with use_backend("interpret"):
        x = mechanism_sample(u, *net.args(), "tanh", net.order)
        with torch.no_grad():
            x_kernel = mechanism_sample(u, *net.args(), "tanh", net.order)
    assert x.grad_fn is not None and x_kernel.grad_fn is None
    assert_close_fp32(x_kernel, x.detach())
    (g,) = torch.autograd.grad(x.sum(), u)
    assert bool((g != 0).any())


@pytest.mark.interpreter
@pytest.mark.parametrize("name,bound", [("tf32", 1e-2), ("bf16", 5e-2)])
def test_reduced_precision_error_is_bounded_and_real(monkeypatch, name, bound):
    net = random_mechanism(7, nodes=4, max_parents=3, hidden=(32, 32), outputs=2)
    x = torch.randn(64, 4)
    want = reference.mechanism_forward(x, *net.args(), "silu")
    with use_backend("interpret"):
        exact = mechanism_forward(x, *net.args(), "silu")
        monkeypatch.setenv("CAUSALPPL_KERNELS_PRECISION", name)
        rough = mechanism_forward(x, *net.args(), "silu")

    def err(a, b):
        return float((a - b).abs().max() / b.abs().max())

    assert err(rough[0], want[0]) < bound
    assert err(rough[0], want[0]) > 10 * err(exact[0], want[0])


@pytest.mark.interpreter
@pytest.mark.parametrize("hidden", [(3, 3, 3), (65, 8), (257,)])
def test_networks_outside_the_kernels_run_the_reference(hidden):
    net = random_mechanism(0, nodes=3, max_parents=2, hidden=hidden, outputs=1)
    x = torch.randn(4, 3)
    assert not kernel_supports(net.weights)
    with use_backend("interpret"):
        got = mechanism_forward(x, *net.args(), "relu", net.scale)
        sampled = mechanism_sample(x, *net.args(), "relu", net.order, net.scale)
    want = reference.mechanism_forward(x, *net.args(), "relu", net.scale)
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    assert torch.equal(sampled, reference.mechanism_sample(x, *net.args(), "relu", net.order, net.scale))
