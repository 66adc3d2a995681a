"""The torch reference of the stacked mechanisms against first principles (float64)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from causalppl.kernels import mechanism_forward, mechanism_sample, scale_transform, use_backend
from causalppl.kernels.mechanism import reference
from causalppl.kernels.testing import random_mechanism

shapes = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "batch": st.integers(1, 40),
        "nodes": st.integers(1, 7),
        "max_parents": st.integers(1, 4),
        "hidden": st.lists(st.integers(1, 9), max_size=3).map(tuple),
        "outputs": st.sampled_from([1, 2]),
        "activation": st.sampled_from(["tanh", "relu", "silu"]),
        "soft_mask": st.booleans(),
    }
)


def draw(s):
    net = random_mechanism(s["seed"], s["nodes"], s["max_parents"], s["hidden"], s["outputs"], soft_mask=s["soft_mask"])
    torch.manual_seed(s["seed"])
    return net, torch.randn(s["batch"], s["nodes"])


def naive_node(x_row_parents, j, net, activation):
    """Node j's MLP on one row, written out with Python loops over layers."""
    h = x_row_parents
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = h @ w[j] + b[j]
        if i < len(net.weights) - 1:
            h = {"tanh": torch.tanh, "relu": torch.relu, "silu": torch.nn.functional.silu}[activation](h)
    return h


def naive_forward(x, net, activation):
    b, n = x.shape
    loc, scale = torch.empty(b, n), torch.empty(b, n)
    for r in range(b):
        for j in range(n):
            parents = torch.stack(
                [
                    x[r, int(net.parent_index[j, p])] * net.parent_mask[j, p]
                    if net.parent_mask[j, p] != 0
                    else torch.tensor(0.0)
                    for p in range(net.parent_index.shape[1])
                ]
            )
            out = naive_node(parents, j, net, activation)
            loc[r, j] = out[0]
            scale[r, j] = net.scale[j] if out.shape[0] == 1 else scale_transform(out[1])
    normal = torch.distributions.Normal(loc, scale)
    return loc, scale, (x - loc) / scale, normal.log_prob(x).sum(-1)


@given(shapes)
def test_reference_forward_matches_per_row_per_node_loop(s):
    net, x = draw(s)
    x = x[:5]
    got = mechanism_forward(x, *net.args(), s["activation"], net.scale)
    for g, w in zip(got, naive_forward(x, net, s["activation"])):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@given(shapes)
def test_skipping_roots_changes_nothing(s):
    net, x = draw(s)
    a = reference.mechanism_forward(x, *net.args(), s["activation"], net.scale, skip_roots=True)
    b = reference.mechanism_forward(x, *net.args(), s["activation"], net.scale, skip_roots=False)
    for g, w in zip(a, b):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@given(shapes)
def test_padding_indices_are_never_read(s):
    net, x = draw(s)
    base = mechanism_forward(x, *net.args(), s["activation"], net.scale)
    moved = net.parent_index.clone()
    padding = net.parent_mask == 0
    moved[padding] = (moved[padding] + 1) % s["nodes"]
    again = mechanism_forward(x, moved, net.parent_mask, net.weights, net.biases, s["activation"], net.scale)
    for g, w in zip(again, base):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


@given(shapes, st.data())
def test_sampling_then_abduction_recovers_the_noise(s, data):
    net, u = draw(s)
    x = mechanism_sample(u, *net.args(), s["activation"], net.order, net.scale)
    _, _, u_back, _ = mechanism_forward(x, *net.args(), s["activation"], net.scale)
    torch.testing.assert_close(u_back, u, rtol=1e-9, atol=1e-9)
    # an intervention fixes its column and propagates through the refitted descendants
    j = data.draw(st.integers(0, s["nodes"] - 1))
    mask = torch.zeros(s["nodes"], dtype=torch.bool)
    mask[j] = True
    x_do = mechanism_sample(u, *net.args(), s["activation"], net.order, net.scale, mask, 2.5)
    assert bool((x_do[:, j] == 2.5).all())
    _, _, u_do, _ = mechanism_forward(x_do, *net.args(), s["activation"], net.scale)
    others = torch.arange(s["nodes"]) != j
    torch.testing.assert_close(u_do[:, others], u[:, others], rtol=1e-9, atol=1e-9)


def test_linear_gaussian_closed_form():
    # x1 = 2 x0 + 1 + 0.5 u1 with no hidden layer: loc, u and the density by hand
    x = torch.tensor([[0.3, 2.0], [-1.0, 0.0]])
    pidx, pmask = torch.tensor([[0], [0]]), torch.tensor([[0.0], [1.0]])
    w, b = [torch.tensor([[[7.0]], [[2.0]]])], [torch.tensor([[0.25], [1.0]])]
    scale = torch.tensor([1.0, 0.5])
    loc, s, u, lp = mechanism_forward(x, pidx, pmask, w, b, "tanh", scale)
    torch.testing.assert_close(loc, torch.tensor([[0.25, 1.6], [0.25, -1.0]]))
    torch.testing.assert_close(u[:, 1], torch.tensor([0.8, 2.0]))
    want = [
        sum(
            -0.5 * ((xv - m) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)
            for xv, m, sd in zip(row, locs, (1.0, 0.5))
        )
        for row, locs in zip(x.tolist(), loc.tolist())
    ]
    torch.testing.assert_close(lp, torch.tensor(want))


def test_root_location_is_the_network_at_zero():
    net = random_mechanism(3, nodes=3, max_parents=2, hidden=(4,), outputs=2, density=0.0)
    x = torch.randn(6, 3)
    loc, s, _, _ = mechanism_forward(x, *net.args(), "silu")
    zero = naive_node(torch.zeros(2), 1, net, "silu")
    torch.testing.assert_close(loc[:, 1], zero[0].expand(6))
    torch.testing.assert_close(s[:, 1], scale_transform(zero[1]).expand(6))


def test_scale_transform_is_softplus_plus_floor():
    raw = torch.tensor([-30.0, 0.0, 30.0])
    torch.testing.assert_close(scale_transform(raw), torch.log1p(torch.exp(raw)) + 1e-4)


@pytest.mark.parametrize("variant", ["dag", "level"])
def test_reference_sampling_is_differentiable(variant):
    net = random_mechanism(1, nodes=4, max_parents=2, hidden=(5,), outputs=1)
    u = torch.randn(3, 4, requires_grad=True)
    w0 = net.weights[0].clone().requires_grad_()

    def sample(u, w0):
        return mechanism_sample(
            u,
            net.parent_index,
            net.parent_mask,
            [w0, net.weights[1]],
            net.biases,
            "tanh",
            net.order,
            net.scale,
            variant=variant,
        )

    with use_backend("torch"):
        assert torch.autograd.gradcheck(sample, (u, w0))
