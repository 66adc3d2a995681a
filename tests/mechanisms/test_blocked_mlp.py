"""The row-blocked stacked MLP equals the reference ``stacked_mlp``: values and every gradient."""

import dataclasses
import gc

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

from causalppl.kernels.activations import ACTIVATIONS
from causalppl.kernels.mechanism.reference import stacked_mlp
from causalppl.mechanisms import _buffers
from causalppl.mechanisms.blocked_mlp import ROWS, Parts, _block_rows, blocked_mlp, reference_mlp, worth_blocking
from causalppl.testing import strategies as cst


@hst.composite
def networks(draw):
    """Random stacked nets: M nets (the first few roots, reading no input), B rows (ragged
    against the block size), widths, depth."""
    seed = draw(cst.seeds())
    g = torch.Generator().manual_seed(seed)
    nets, batch, rows = draw(hst.integers(1, 5)), draw(hst.integers(1, 40)), draw(hst.integers(1, 9))
    widths = (
        [draw(hst.integers(1, 4))]
        + draw(hst.lists(hst.integers(1, 7), min_size=0, max_size=2))
        + [draw(hst.integers(1, 3))]
    )
    weights = [torch.randn(nets, a, b, generator=g) for a, b in zip(widths, widths[1:])]
    biases = [torch.randn(nets, b, generator=g) for b in widths[1:]]
    roots = draw(hst.integers(0, nets))
    h = torch.randn(nets - roots, batch, widths[0], generator=g)
    return h, weights, biases, rows, draw(hst.sampled_from(sorted(ACTIVATIONS))), roots


parts = hst.builds(Parts, **{f.name: hst.booleans() for f in dataclasses.fields(Parts)})


@given(networks(), parts)
def test_values_and_gradients_equal_the_reference(net, switched):
    """Against autograd of ``stacked_mlp`` on every net, the roots fed rows of zeros, with
    any of the parts switched off."""
    h, weights, biases, rows, act, roots = net
    leaves = [t.clone().requires_grad_() for t in [h, *weights, *biases]]
    depth, nets, batch = len(weights), weights[0].shape[0], h.shape[1]
    grad_out = torch.randn(nets, batch, weights[-1].shape[-1], generator=torch.Generator().manual_seed(1))

    def run(fn):
        hh, ws, bs = leaves[0], leaves[1 : 1 + depth], leaves[1 + depth :]
        out = fn(hh, ws, bs)
        grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
        return out, [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]

    def reference(hh, ws, bs):
        return stacked_mlp(torch.cat([hh.new_zeros(roots, batch, hh.shape[-1]), hh]), ws, bs, act)

    ref, ref_grads = run(reference)
    out, grads = run(lambda hh, ws, bs: blocked_mlp(hh, ws, bs, act, rows=rows, roots=roots, parts=switched))
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(reference_mlp(h, weights, biases, act, roots), ref.detach(), rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        plain = blocked_mlp(h, weights, biases, act, rows=rows, roots=roots, parts=switched)
    torch.testing.assert_close(plain, ref.detach(), rtol=1e-10, atol=1e-12)
    for name, a, b in zip(
        ["input"] + [f"weight_{i}" for i in range(depth)] + [f"bias_{i}" for i in range(depth)], grads, ref_grads
    ):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=lambda m, name=name: f"{name}: {m}")


def test_without_gradients_it_is_a_plain_forward():
    h = torch.randn(2, 10, 3)
    ws, bs = [torch.randn(2, 3, 4), torch.randn(2, 4, 1)], [torch.randn(2, 4), torch.randn(2, 1)]
    with torch.no_grad():
        torch.testing.assert_close(blocked_mlp(h, ws, bs, "tanh", rows=3), stacked_mlp(h, ws, bs, "tanh"))
        torch.testing.assert_close(
            blocked_mlp(h[1:], ws, bs, "tanh", rows=3, roots=1), reference_mlp(h[1:], ws, bs, "tanh", roots=1)
        )


@pytest.mark.parametrize(
    ("nets", "batch", "width", "act", "grad", "worth", "rows"),
    [
        (50, 4096, 64, "silu", True, True, ROWS),  # 13M activations per layer: far out of cache, blocks
        (20, 4096, 64, "tanh", True, True, ROWS),  # 5M
        (20, 256, 64, "tanh", True, True, 256),  # 0.3M: tanh as a sigmoid pays, in one block
        (20, 256, 64, "tanh", False, True, 256),  # without autograd too
        (20, 256, 64, "silu", False, False, 256),  # silu does not
        (50, 256, 64, "relu", True, False, 256),  # nor relu's backward
        (50, 8, 512, "tanh", False, False, 8),  # a handful of rows: the reference's fewer steps win
        (20, 4096, 64, "relu", True, True, ROWS),  # relu from 1,024 rows
        (3, 4096, 32, "silu", False, True, 4096),  # one topological level of a large query, in one block
    ],
)
def test_the_blocked_path_is_taken_where_it_was_measured_to_win(nets, batch, width, act, grad, worth, rows):
    h = torch.empty(nets, batch, 3)
    weights = [torch.empty(nets, 3, width, requires_grad=grad), torch.empty(nets, width, 1, requires_grad=grad)]
    assert worth_blocking(h, weights, act) is worth
    assert _block_rows(h, weights) == rows


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_reused_buffers_do_not_leak_between_calls(act):
    """Per-call buffers are reused across calls: graphs alive at once, of different sizes,
    interleaved with no-grad calls, still get their own gradients."""
    g = torch.Generator().manual_seed(3)
    ws = [torch.randn(3, 2, 6, generator=g, requires_grad=True), torch.randn(3, 6, 1, generator=g, requires_grad=True)]
    bs = [torch.randn(3, 6, generator=g, requires_grad=True), torch.randn(3, 1, generator=g, requires_grad=True)]
    inputs = [torch.randn(3, batch, 2, generator=g) for batch in (40, 17, 90)]
    outs = [blocked_mlp(h, ws, bs, act, rows=rows) for h, rows in zip(inputs, (8, 17, 16))]
    with torch.no_grad():
        blocked_mlp(torch.randn(3, 200, 2, generator=g), ws, bs, act, rows=50)
    for h, out in reversed(list(zip(inputs, outs))):
        grads = torch.autograd.grad(out.sum(), [*ws, *bs])
        ref = torch.autograd.grad(stacked_mlp(h, ws, bs, act).sum(), [*ws, *bs])
        for a, b in zip(grads, ref):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("roots", [0, 1])
def test_gradients_are_differentiable_again(act, roots):
    """``create_graph=True`` (gradient penalties, Hessian-vector products): second derivatives
    equal the reference's."""
    g = torch.Generator().manual_seed(5)
    h = torch.randn(2 - roots, 20, 3, generator=g, requires_grad=True)
    ws = [torch.randn(2, 3, 4, generator=g, requires_grad=True), torch.randn(2, 4, 1, generator=g, requires_grad=True)]
    bs = [torch.randn(2, 4, generator=g, requires_grad=True), torch.randn(2, 1, generator=g, requires_grad=True)]

    def second(fn):
        (g_w,) = torch.autograd.grad(fn().pow(2).sum(), ws[0], create_graph=True)
        return torch.autograd.grad(g_w.pow(2).sum(), [h, *ws, *bs], allow_unused=True)

    ref = second(lambda: stacked_mlp(torch.cat([h.new_zeros(roots, 20, 3), h]), ws, bs, act))
    got = second(lambda: blocked_mlp(h, ws, bs, act, rows=8, roots=roots))
    for a, b in zip(got, ref):
        if b is None:
            assert a is None or not a.abs().any()
        else:
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def _net(g, nets=3, width=6, depth=3):
    widths = [2] + [width] * (depth - 1) + [1]
    ws = [torch.randn(nets, a, b, generator=g, requires_grad=True) for a, b in zip(widths, widths[1:])]
    bs = [torch.randn(nets, b, generator=g, requires_grad=True) for b in widths[1:]]
    return ws, bs


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_a_retained_graph_keeps_its_buffers_for_a_second_backward(act):
    """The saved activations live in leased buffers. A graph kept for a second backward
    (``retain_graph=True``) keeps them while another call runs, and still gets its own
    gradients; once the graph is gone its buffers are leased again."""
    gc.collect()
    _buffers.free_buffers()  # takes in what other tests' graphs returned, and then:
    _buffers._pool("leases").clear()  # their free buffers could be leased instead
    g = torch.Generator().manual_seed(11)
    ws, bs = _net(g)
    h1, h2 = torch.randn(3, 30, 2, generator=g), torch.randn(3, 30, 2, generator=g)
    out1 = blocked_mlp(h1, ws, bs, act, rows=8)
    first = torch.autograd.grad(out1.sum(), [*ws, *bs], retain_graph=True)
    out2 = blocked_mlp(h2, ws, bs, act, rows=8)
    assert not _shared(out1, out2)  # out1's graph is alive: its buffers are not handed out
    again = torch.autograd.grad(out1.sum(), [*ws, *bs])
    ref1 = torch.autograd.grad(stacked_mlp(h1, ws, bs, act).sum(), [*ws, *bs])
    got2 = torch.autograd.grad(out2.sum(), [*ws, *bs])
    ref2 = torch.autograd.grad(stacked_mlp(h2, ws, bs, act).sum(), [*ws, *bs])
    for a, b, c, d, e in zip(first, again, ref1, got2, ref2):
        torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(b, c, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(d, e, rtol=1e-9, atol=1e-11)
    del first, again
    gone = _flats(out1)
    del out1
    gc.collect()
    assert all(any(f is b for b in _buffers.free_buffers()) for f in gone)  # back once the graph is gone
    out3 = blocked_mlp(h1, ws, bs, act, rows=8)
    assert {id(f) for f in _flats(out3)} <= {id(f) for f in gone}  # and leased again


def _flats(out):
    return [f for holder in out.grad_fn.holders if holder is not None for f in holder.flats]


def _shared(a, b) -> bool:
    return bool({id(f) for f in _flats(a)} & {id(f) for f in _flats(b)})


def test_the_lease_pool_stays_bounded():
    """Calls of many sizes leave at most KEEP free buffers in the thread's pool."""
    g = torch.Generator().manual_seed(12)
    ws, bs = _net(g, depth=4)
    for batch in range(20, 60, 3):
        out = blocked_mlp(torch.randn(3, batch, 2, generator=g), ws, bs, "tanh", rows=batch)
        out.sum().backward()
    del out
    gc.collect()
    assert 0 < len(_buffers.free_buffers()) <= _buffers.KEEP
