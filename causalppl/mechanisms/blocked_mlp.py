"""The stacked MLP of a mechanism bank, evaluated in cache-sized row blocks (the CPU fast path).

:func:`~causalppl.mechanisms.bank.stacked_mlp` is the reference. It writes every layer's
``[M, B, H]`` activations to memory and autograd reads them back several times; at large
batches (50 nets x 4,096 rows x 64 units is 52 MB per layer) each of those passes streams
main memory, and the stacked path ends up slower than a Python loop over nets whose
``[B, H]`` intermediates stay in cache. Here the rows are cut into blocks of a few dozen,
stored block-major (``[blocks, M, rows, H]``, so each block is contiguous), and the
forward and the hand-written backward run block by block: every elementwise op and every
matrix product touches a block that fits in L2. The arithmetic is the reference's, in the
same order per row, so values and gradients agree to rounding (tested with hypothesis).
"""

from __future__ import annotations

import torch

__all__ = ["ROWS", "blocked_mlp", "worth_blocking"]

ROWS = 64  # rows per block: 50 nets x 64 rows x 64 units of float32 is 0.8 MB
_MIN_ELEMENTS = 1 << 20  # below ~4 MB of activations per layer the reference is as fast


def worth_blocking(h: torch.Tensor, weights) -> bool:
    """Whether the blocked path pays off for input ``h [M, B, P]`` (CPU, large batches)."""
    if h.device.type != "cpu" or h.shape[1] <= ROWS:
        return False
    width = max(w.shape[-1] for w in weights)
    return h.shape[0] * h.shape[1] * width >= _MIN_ELEMENTS


def blocked_mlp(h: torch.Tensor, weights, biases, activation: str, rows: int | None = None) -> torch.Tensor:
    """``stacked_mlp(h, weights, biases, act)`` in row blocks, with a blocked backward.

    Args:
        h: inputs ``[M, B, P]``.
        weights: per-layer ``[M, in, out]``; biases: per-layer ``[M, out]``.
        activation: ``"tanh" | "relu" | "silu"`` after every hidden layer.
        rows: rows per block (default :data:`ROWS`).

    Example:
        >>> from causalppl.mechanisms.bank import stacked_mlp, ACTIVATIONS
        >>> g = torch.Generator().manual_seed(0)
        >>> h = torch.randn(3, 100, 2, generator=g)
        >>> ws = [torch.randn(3, 2, 8, generator=g), torch.randn(3, 8, 1, generator=g)]
        >>> bs = [torch.randn(3, 8, generator=g), torch.randn(3, 1, generator=g)]
        >>> ref = stacked_mlp(h, ws, bs, ACTIVATIONS["silu"])
        >>> bool(torch.allclose(blocked_mlp(h, ws, bs, "silu", rows=16), ref))
        True
    """
    return _BlockedMLP.apply(h, activation, rows or ROWS, *weights, *biases)


def _activate(pre: torch.Tensor, activation: str, slope: torch.Tensor | None) -> torch.Tensor:
    """The activation in place on ``pre``; silu also writes ``sigmoid(pre)`` to ``slope``
    (its derivative is ``s + y (1 - s)``: saving ``s`` spares recomputing it backwards)."""
    if activation == "tanh":
        return pre.tanh_()
    if activation == "relu":
        return pre.relu_()
    torch.sigmoid(pre, out=slope)
    return pre.mul_(slope)


def _backprop_activation(grad: torch.Tensor, y: torch.Tensor, slope: torch.Tensor | None, activation: str):
    """``grad * act'(pre)`` from the saved output ``y`` (and ``slope = sigmoid(pre)`` for silu)."""
    if activation == "tanh":
        return grad.mul_(1 - y * y)
    if activation == "relu":
        return grad.mul_(y > 0)
    return grad.mul_(torch.addcmul(slope, y, 1 - slope))


class _BlockedMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, activation, rows, *params):
        depth = len(params) // 2
        weights, biases = params[:depth], params[depth:]
        nets, batch, width = h.shape
        blocks = -(-batch // rows)
        pad = blocks * rows - batch
        if pad:
            h = torch.cat([h, h.new_zeros(nets, pad, width)], 1)
        hb = h.reshape(nets, blocks, rows, width).transpose(0, 1).contiguous()
        saved = [h.new_empty(blocks, nets, rows, w.shape[-1]) for w in weights[:-1]]
        slopes = [torch.empty_like(t) if activation == "silu" else None for t in saved]
        out = h.new_empty(blocks, nets, rows, weights[-1].shape[-1])
        bias = [b.unsqueeze(1) for b in biases]
        for c in range(blocks):
            x = hb[c]
            for i in range(depth - 1):
                slope = slopes[i][c] if slopes[i] is not None else None
                x = _activate(torch.baddbmm(bias[i], x, weights[i], out=saved[i][c]), activation, slope)
            torch.baddbmm(bias[-1], x, weights[-1], out=out[c])
        ctx.save_for_backward(hb, *saved, *weights, *[t for t in slopes if t is not None])
        ctx.activation, ctx.batch, ctx.depth = activation, batch, depth
        return out.transpose(0, 1).reshape(nets, blocks * rows, -1)[:, :batch]

    @staticmethod
    def backward(ctx, grad):
        depth, act = ctx.depth, ctx.activation
        hb, *rest = ctx.saved_tensors
        saved, weights, slopes = rest[: depth - 1], rest[depth - 1: 2 * depth - 1], rest[2 * depth - 1:]
        slopes = slopes or [None] * (depth - 1)
        blocks, nets, rows, width = hb.shape
        pad = blocks * rows - ctx.batch
        if pad:
            grad = torch.cat([grad, grad.new_zeros(nets, pad, grad.shape[-1])], 1)
        gb_all = grad.reshape(nets, blocks, rows, -1).transpose(0, 1).contiguous()
        g_w = [torch.zeros_like(w) for w in weights]
        g_b = [w.new_zeros(nets, w.shape[-1]) for w in weights]
        want_input = ctx.needs_input_grad[0]
        g_h = torch.empty_like(hb) if want_input else None
        w_t = [w.transpose(1, 2).contiguous() for w in weights]  # once, not once per block
        for c in range(blocks):
            g = gb_all[c]
            for i in range(depth - 1, -1, -1):
                inp = hb[c] if i == 0 else saved[i - 1][c]
                g_b[i] += g.sum(1)
                g_w[i].baddbmm_(inp.transpose(1, 2), g)
                if i > 0:
                    slope = slopes[i - 1][c] if slopes[i - 1] is not None else None
                    g = _backprop_activation(torch.bmm(g, w_t[i]), saved[i - 1][c], slope, act)
                elif want_input:
                    torch.bmm(g, w_t[0], out=g_h[c])
        if want_input:
            g_h = g_h.transpose(0, 1).reshape(nets, blocks * rows, width)[:, : ctx.batch]
        return (g_h, None, None, *g_w, *g_b)
