"""The stacked MLP of a mechanism bank with a hand-written backward: the CPU fast path.

:func:`reference_mlp` (:func:`~causalppl.kernels.mechanism.reference.stacked_mlp` calls, differentiated
by autograd) is the reference. :func:`blocked_mlp` does its arithmetic (values and gradients
agree to rounding, tested with hypothesis with every part on or off) with four parts, each
switched by a field of :class:`Parts`:

* ``blocks``: once a layer's activations outgrow the cache, rows go in blocks of :data:`ROWS`.
* ``narrow``: a batched product with one output column takes MKL's slow path, so the last
  layer is computed and differentiated transposed (with one column: an outer product).
* ``tanh_sigmoid``: torch's CPU ``tanh`` costs about 2.6 ns per float32 element, ``sigmoid``
  0.5 ns; ``tanh(x) = 2 sigmoid(2x) - 1`` is off by at most two units in the last place *of
  1* (1.8e-7 in float32, 3.3e-16 in float64): absolute accuracy, what a next layer sees.
* ``leases``: saved activations live in buffers leased from a pool (:mod:`._buffers`).

Measured with ``causalppl bench cpu_paths --activations tanh,silu,relu`` (medians of three
runs; one torch thread on this shared 2-core AMD EPYC box, 2 MB L2, no GPU; 2026-12-06) on
the MLP inputs of NeuralSCMs with hidden (64, 64), 20 / 50 nodes, 256 and 4,096 rows. The
blocked path against torch.compile of the reference (against the reference in brackets):
forward + backward at 4,096 rows tanh 1.68x / 1.79x (2.8x / 3.2x), silu 1.42x / 2.01x
(2.1x / 2.7x), relu 1.24x / 1.77x; at 256 rows 0.90x-1.15x (1.0x-2.0x). Forward without
autograd at 4,096 rows 1.6x-2.8x; at 256 rows tanh 1.60x / 1.55x (2.0x / 2.2x), silu
1.17x / 0.62x, relu 1.32x / 1.23x. The path is kept because it beat both by more than 1.3x
at 4,096 rows. Where torch.compile matches it (forward + backward at 256 rows) the package
has no compiled path to run instead, only the reference, so :func:`worth_blocking` takes this
path wherever it beat the reference by 1.3x: tanh from 16 rows (1.6x-2.2x at 256 rows, with
or without autograd), silu and relu at 4,096 rows (1.9x-4.9x), not at 256 (0.9x-1.4x).
Inside ``counterfactual_rows`` of 4,096 units (hidden (32, 32), a call
per level of 1-8 nets) it beat torch.compile 1.7x (tanh), 1.36x (relu), 1.08x (silu).
Each part switched off (time without / with, where the path is taken): blocks 1.32x-1.42x
(tanh, 4,096 rows), narrow 1.34x (tanh) and 1.38x (silu) forward + backward at 20 nodes,
tanh_sigmoid 1.3x-2.2x, leases 1.42x (tanh) and 1.53x (silu) forward + backward at 50
nodes. Measured the same way and deleted: silu's derivative from a saved sigmoid
(0.68x-1.26x, median 0.98x) and reused scratch buffers within a call (0.76x-1.21x).
``benchmarks/results/cpu_paths.md`` holds the latest run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from causalppl.kernels.mechanism.reference import stacked_mlp

from ._buffers import lease

__all__ = ["PARTS", "ROWS", "Parts", "blocked_mlp", "reference_mlp", "worth_blocking"]

ROWS = 128  # rows per block (measured: 64 and 256 are 5-10% slower at 20 and 50 nets, 64 units)
_MIN_ELEMENTS = 1 << 20  # activations per layer from which rows are cut into blocks (cache)
_MIN_ROWS = 16  # below this the reference's fewer Python steps win (one-unit queries)
_FROM_ROWS = 1024  # silu and relu beat the reference by 1.3x at 4,096 rows, not at 256


@dataclass(frozen=True)
class Parts:
    """Switches for the parts of :func:`blocked_mlp` (module docstring); all on by default.

    Example:
        >>> Parts(leases=False).tanh_sigmoid
        True
    """

    blocks: bool = True
    narrow: bool = True
    tanh_sigmoid: bool = True
    leases: bool = True


PARTS = Parts()


def _graph(h, weights, biases) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in [h, *weights, *biases])


def worth_blocking(h: torch.Tensor, weights, activation: str) -> bool:
    """Whether this path beats the reference, which runs otherwise, by 1.3x for ``h [M', B, P]``
    (module docstring): on CPU, tanh from 16 rows, silu and relu from :data:`_FROM_ROWS`
    rows or 4M activations (nets x rows x widest layer).

    Example:
        >>> h, ws = torch.zeros(50, 4096, 3), [torch.zeros(50, 3, 64), torch.zeros(50, 64, 1)]
        >>> worth_blocking(h, ws, "silu"), worth_blocking(h[:, :256], ws, "silu")
        (True, False)
    """
    if h.device.type != "cpu" or h.shape[1] < _MIN_ROWS:
        return False
    work = weights[0].shape[0] * h.shape[1] * max(w.shape[-1] for w in weights)
    return activation == "tanh" or h.shape[1] >= _FROM_ROWS or work >= 4 * _MIN_ELEMENTS


def _block_rows(h: torch.Tensor, weights, parts: Parts = PARTS) -> int:
    """:data:`ROWS` when a layer's activations outgrow the cache, else the whole batch."""
    work = weights[0].shape[0] * h.shape[1] * max(w.shape[-1] for w in weights)
    return ROWS if parts.blocks and work >= _MIN_ELEMENTS else h.shape[1]


def blocked_mlp(
    h: torch.Tensor, weights, biases, activation: str, rows: int | None = None, roots: int = 0, parts: Parts = PARTS
) -> torch.Tensor:
    """:func:`reference_mlp` in row blocks, with a hand-written backward.

    Args:
        h: inputs ``[M - roots, B, P]`` of the nets after the first ``roots``.
        weights: per-layer ``[M, in, out]``; biases: per-layer ``[M, out]``.
        activation: ``"tanh" | "relu" | "silu"`` after every hidden layer.
        rows: rows per block (default: :data:`ROWS` for large batches, else all rows).
        roots: the first ``roots`` nets read no input (root nodes): they run on one zero row,
            broadcast over the batch, and their gradients land in the full-size tensors.
        parts: which parts to use (:class:`Parts`).

    Returns:
        Outputs ``[M, B, out]``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> h = torch.randn(2, 100, 2, generator=g)
        >>> ws = [torch.randn(3, 2, 8, generator=g), torch.randn(3, 8, 1, generator=g)]
        >>> bs = [torch.randn(3, 8, generator=g), torch.randn(3, 1, generator=g)]
        >>> ref = reference_mlp(h, ws, bs, "tanh", roots=1)
        >>> bool(torch.allclose(blocked_mlp(h, ws, bs, "tanh", rows=16, roots=1), ref, atol=1e-6))
        True
    """
    rows = rows or _block_rows(h, weights, parts)
    if _graph(h, weights, biases):
        return _BlockedMLP.apply(h, activation, rows, roots, parts, *weights, *biases)
    return _run(h, activation, rows, roots, weights, biases, parts, keep=False)[0]


def reference_mlp(h: torch.Tensor, weights, biases, activation: str, roots: int = 0) -> torch.Tensor:
    """What :func:`blocked_mlp` computes, as plain :func:`~causalppl.kernels.mechanism.reference.stacked_mlp`
    calls: the first ``roots`` nets on one zero row (broadcast), the others on ``h``.

    Example:
        >>> ws, bs = [torch.ones(2, 1, 3), torch.ones(2, 3, 1)], [torch.zeros(2, 3), torch.zeros(2, 1)]
        >>> reference_mlp(torch.zeros(1, 4, 1), ws, bs, "relu", roots=1).shape
        torch.Size([2, 4, 1])
    """
    act, nets, batch = activation, weights[0].shape[0], h.shape[1]
    if not roots:  # (no slicing: a one-unit query runs this once per level, at a few us a slice)
        return stacked_mlp(h, weights, biases, act)
    zero = h.new_zeros(roots, 1, weights[0].shape[1])
    out = stacked_mlp(zero, [w[:roots] for w in weights], [b[:roots] for b in biases], act)
    out = out.expand(roots, batch, out.shape[-1])
    if roots == nets:
        return out
    return torch.cat([out, stacked_mlp(h, [w[roots:] for w in weights], [b[roots:] for b in biases], act)])


def _activate(pre: torch.Tensor, activation: str, kept: torch.Tensor | None, parts: Parts) -> torch.Tensor:
    """The activation of ``pre``, written over it (silu's backward reads ``pre``: kept first)."""
    if activation == "tanh":
        return pre.mul_(2).sigmoid_().mul_(2).sub_(1) if parts.tanh_sigmoid else pre.tanh_()
    if activation == "relu":
        return pre.relu_()
    kept.copy_(pre)
    return torch.nn.functional.silu(pre, inplace=True)


def _backprop_activation(grad, y, activation: str, tmp: torch.Tensor, pre: torch.Tensor | None):
    """``grad *= act'`` in place, from the layer's output ``y`` (silu: its input ``pre``)."""
    if activation == "tanh":  # g (1 - y^2) = g - g y^2
        return grad.sub_(torch.mul(y, y, out=tmp).mul_(grad))
    if activation == "relu":  # y > 0 exactly where pre > 0
        return torch.ops.aten.threshold_backward.grad_input(grad, y, 0, grad_input=grad)
    return torch.ops.aten.silu_backward.grad_input(grad, pre, grad_input=grad)


def _to_blocks(t: torch.Tensor, rows: int) -> torch.Tensor:
    """``[M, B, W]`` -> block-major ``[blocks, M, rows, W]`` (zero-padded rows), contiguous."""
    nets, batch, width = t.shape
    blocks = -(-batch // rows)
    if blocks * rows > batch:
        t = torch.cat([t, t.new_zeros(nets, blocks * rows - batch, width)], 1)
    return t.reshape(nets, blocks, rows, width).transpose(0, 1).contiguous()


def _forward(h, activation, rows, weights, biases, parts: Parts, keep: bool):
    """Outputs ``[M, B, out]``, the blocked input, each hidden layer's blocked output (and
    silu input), their buffers' holder. Without ``keep`` each layer reuses one block."""
    depth, hb = len(weights), _to_blocks(h, rows)
    blocks, nets = hb.shape[:2]
    kept = blocks if keep else 1
    shapes = [(kept, nets, rows, w.shape[-1]) for w in weights[:-1]] * (2 if activation == "silu" else 1)
    holder = None
    if keep and parts.leases:
        holder, views = lease(h, shapes)
    else:
        views = [h.new_empty(shape) for shape in shapes]
    saved, pres = views[: depth - 1], views[depth - 1 :] or [None] * (depth - 1)
    bias = [b.unsqueeze(1) for b in biases[:-1]]
    w_last, b_last = weights[-1], biases[-1].unsqueeze(1)
    if parts.narrow:  # the last layer runs transposed: [M, out, in] @ [M, in, rows]
        w_last, b_last = w_last.transpose(1, 2), biases[-1].unsqueeze(-1)
    out_b = h.new_empty(blocks, nets, *((w_last.shape[1], rows) if parts.narrow else (rows, w_last.shape[-1])))
    for c in range(blocks):
        x, at = hb[c], c if keep else 0
        for i in range(depth - 1):
            pre = torch.baddbmm(bias[i], x, weights[i], out=saved[i][at])
            x = _activate(pre, activation, None if pres[i] is None else pres[i][at], parts)
        torch.baddbmm(b_last, *((w_last, x.transpose(1, 2)) if parts.narrow else (x, w_last)), out=out_b[c])
    out = out_b.permute(1, 0, 3, 2) if parts.narrow else out_b.transpose(0, 1)
    return out.reshape(nets, blocks * rows, -1)[:, : h.shape[1]], hb, saved, pres, holder


def _run(h, activation, rows, roots, weights, biases, parts: Parts, keep: bool):
    """Outputs ``[M, B, out]``, the backward's pieces (root nets on one zero row, then the
    others) and the holders of their leased buffers."""
    nets, batch = weights[0].shape[0], h.shape[1]
    parts_in = [(slice(0, roots), h.new_zeros(roots, 1, h.shape[-1]), 1)] if roots else []
    if roots < nets:
        parts_in.append((slice(roots, nets), h, rows))
    outs, pieces, holders = [], [], []
    for sl, x, r in parts_in:
        layers = [w[sl] for w in weights], [b[sl] for b in biases]
        out, hb, saved, pres, holder = _forward(x, activation, r, *layers, parts, keep)
        outs.append(out.expand(out.shape[0], batch, out.shape[-1]))
        pieces.append((sl, hb, saved, pres))
        holders.append(holder)
    return (outs[0] if len(outs) == 1 else torch.cat(outs)), pieces, holders


class _BlockedMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, activation, rows, roots, parts, *params):
        depth = len(params) // 2
        out, pieces, holders = _run(h, activation, rows, roots, params[:depth], params[depth:], parts, keep=True)
        ctx.save_for_backward(h, *params)
        # The blocks stay on ctx: the holders return their buffers to the pool once this
        # node is gone, so a retained graph's second backward reads its own numbers.
        ctx.pieces, ctx.holders = pieces, holders
        ctx.activation, ctx.roots, ctx.depth, ctx.parts = activation, roots, depth, parts
        return out

    @staticmethod
    def backward(ctx, grad):
        h, *params = ctx.saved_tensors
        weights, biases = params[: ctx.depth], params[ctx.depth :]
        if torch.is_grad_enabled():  # create_graph: differentiate the reference, so that
            return _reference_backward(ctx, grad, h, weights, biases)  # its gradient is too
        nets, narrow = weights[0].shape[0], ctx.parts.narrow
        g_w = [torch.zeros_like(w) for w in weights[:-1]]
        g_w.append(weights[-1].new_zeros(nets, *weights[-1].shape[1:][:: -1 if narrow else 1]))
        g_b = [w.new_zeros(nets, w.shape[-1]) for w in weights]
        g_h = None
        for sl, hb, saved, pres in ctx.pieces:
            root = sl.start < ctx.roots
            g_out = grad[sl].sum(1, keepdim=True) if root else grad[sl]  # roots ran on one row
            into, layers = ([g[sl] for g in g_w], [g[sl] for g in g_b]), [w[sl] for w in weights]
            want = not root and ctx.needs_input_grad[0]
            found = _backward_piece(g_out, (hb, saved, pres), layers, ctx.activation, into, want, narrow)
            g_h = found if found is not None else g_h
        g_h = None if g_h is None else g_h[:, : h.shape[1]]
        g_last = g_w[-1].transpose(1, 2) if narrow else g_w[-1]
        return (g_h, None, None, None, None, *g_w[:-1], g_last, *g_b)


def _backward_piece(grad, piece, weights, act, into_grads, want_input: bool, narrow: bool):
    """Add one piece's gradients into ``into_grads`` (weights, the last transposed when
    ``narrow``; biases) block by block; the input gradient ``[M', blocks * rows, P]`` if wanted."""
    (hb, saved, pres), (g_w, g_b) = piece, into_grads
    depth = len(weights)
    blocks, nets, rows, width = hb.shape
    grads = [hb.new_empty(t.shape[1:]) for t in saved]  # d loss / d layer i, one block at a time
    tmp = [hb.new_empty(t.shape[1:]) for t in saved] if act == "tanh" else [None] * len(saved)
    g_last = _to_blocks(grad, rows)
    g_last = g_last.transpose(2, 3).contiguous() if narrow else g_last  # [blocks, M', out, rows]
    g_h = torch.empty_like(hb) if want_input else None
    w_t = [w.transpose(1, 2).contiguous() for w in weights]  # once, not once per block
    for c in range(blocks):
        g = g_last[c]
        for i in range(depth - 1, -1, -1):
            inp = hb[c] if i == 0 else saved[i - 1][c]
            into = grads[i - 1] if i > 0 else (g_h[c] if want_input else None)
            if i == depth - 1 and narrow:  # g is [M', out, rows]
                g_b[i] += g.sum(-1)
                g_w[i].baddbmm_(g, inp)
                if into is not None:  # one output column: an outer product
                    gt = g.transpose(1, 2)
                    g = torch.mul(gt, w_t[i], out=into) if g.shape[1] == 1 else torch.bmm(gt, w_t[i], out=into)
            else:
                g_b[i] += g.sum(1)
                g_w[i].baddbmm_(inp.transpose(1, 2), g)
                if into is not None:
                    g = torch.bmm(g, w_t[i], out=into)
            if i > 0:
                pre = None if pres[i - 1] is None else pres[i - 1][c]
                g = _backprop_activation(g, saved[i - 1][c], act, tmp[i - 1], pre)
    return g_h.transpose(0, 1).reshape(nets, blocks * rows, width) if want_input else None


def _reference_backward(ctx, grad, h, weights, biases):
    """Autograd of the reference, for gradients differentiated again (``create_graph=True``):
    the blocked backward writes in place into buffers no graph records."""
    inputs = [h, *weights, *biases]
    needs = [ctx.needs_input_grad[0], *ctx.needs_input_grad[5:]]  # skip activation, rows, roots, parts
    with torch.enable_grad():
        out = reference_mlp(h, weights, biases, ctx.activation, ctx.roots)
        found = iter(torch.autograd.grad(out, [t for t, need in zip(inputs, needs) if need], grad, create_graph=True))
    grads = [next(found) if need else None for need in needs]
    return (grads[0], None, None, None, None, *grads[1:])
