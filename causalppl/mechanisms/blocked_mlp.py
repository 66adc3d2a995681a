"""The stacked MLP of a mechanism bank with a hand-written backward: the CPU fast path.

:func:`reference_mlp` (:func:`~causalppl.mechanisms.bank.stacked_mlp` calls) is the reference;
autograd differentiates it with a ``bmm`` per product. Five things make that slow on a
CPU, and this module avoids each while doing the reference's arithmetic (values and
gradients agree to rounding, tested with hypothesis):

* **Cache.** At large batches every layer's ``[M, B, H]`` activations (50 nets x 4,096
  rows x 64 units is 52 MB) are written to memory and streamed back several times. Here
  the rows are cut into blocks of :data:`ROWS`, stored block-major (``[blocks, M, rows,
  H]``, each block contiguous), and forward and backward run block by block, so every
  product and elementwise op touches a block that fits in L2.
* **Narrow output layers.** A batched product with one or two output columns
  (``[M, B, H] @ [M, H, 1]``, the location of an additive mechanism) takes MKL's slow
  path: 3 to 10 times the time of the same product transposed (``[M, 1, H] @ [M, H, B]``).
  The last layer is therefore computed and differentiated transposed; with one output
  column its input gradient is an outer product, done as a broadcast multiply.
* **tanh.** torch's CPU ``tanh`` costs about 2.6 ns per float32 element, ``sigmoid``
  0.5 ns; ``tanh(x) = 2 sigmoid(2x) - 1`` is exact in real arithmetic and off by at most
  two units in the last place *of 1* in floating point (measured: 1.8e-7 in float32, 3.3e-16 in
  float64; torch's ``tanh`` is accurate relative to the output even near 0, this is
  accurate in absolute terms, which is what a following layer sees). The backward reads
  the saved output (``1 - y^2``), as the reference does.
* **silu's backward.** torch's ``silu_backward`` recomputes the sigmoid, and the weight
  gradient needs the output again. The forward here keeps the sigmoid ``s`` beside the
  output ``y = x s``, and the derivative ``s + y (1 - s)`` takes three cheap passes: a
  silu layer's forward and backward in half the time.
* **Allocation.** A fresh megabyte-sized tensor costs a page fault per 4 KB on every call
  (over a quarter of the time at 50 nets x 4,096 rows). Buffers come from per-thread pools
  (:mod:`._buffers`): scratch for what dies within a call, checked leases for the saved
  activations the backward reads; the backward writes in place.
"""

from __future__ import annotations

import torch

from ._buffers import give_back, lease, scratch, still_ours
from .bank import ACTIVATIONS, stacked_mlp

__all__ = ["ROWS", "blocked_mlp", "reference_mlp", "worth_blocking"]

ROWS = 128  # rows per block (measured: 64 and 256 are 5-10% slower at 20 and 50 nets, 64 units)
_MIN_ELEMENTS = 1 << 20  # activations per layer from which the rows are cut into blocks
_MIN_ROWS = 16  # below this the reference's fewer Python steps win (one-unit queries)


def worth_blocking(h: torch.Tensor) -> bool:
    """Whether this path pays off for input ``h [M, B, P]``: CPU tensors, a batch of rows."""
    return h.device.type == "cpu" and h.shape[1] >= _MIN_ROWS


def _block_rows(h: torch.Tensor, weights) -> int:
    """:data:`ROWS` when a layer's activations outgrow the cache, else the whole batch."""
    width = max(w.shape[-1] for w in weights)
    return ROWS if h.shape[0] * h.shape[1] * width >= _MIN_ELEMENTS else h.shape[1]


def blocked_mlp(
    h: torch.Tensor, weights, biases, activation: str, rows: int | None = None, roots: int = 0
) -> torch.Tensor:
    """:func:`reference_mlp` in row blocks, with a hand-written backward.

    Args:
        h: inputs ``[M - roots, B, P]`` of the nets after the first ``roots``.
        weights: per-layer ``[M, in, out]``; biases: per-layer ``[M, out]``.
        activation: ``"tanh" | "relu" | "silu"`` after every hidden layer.
        rows: rows per block (default: :data:`ROWS` for large batches, else all rows).
        roots: the first ``roots`` nets read no input (root nodes): they run on one zero row,
            broadcast over the batch. Their gradients land in the same full-size tensors as
            the others', so the caller slices no parameter (each slice would cost a
            zero-filled full-size gradient and one more accumulation in the backward).

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
    rows = rows or _block_rows(h, weights)
    if torch.is_grad_enabled() and any(t.requires_grad for t in [h, *weights, *biases]):
        return _BlockedMLP.apply(h, activation, rows, roots, *weights, *biases)
    return _run(h, activation, rows, roots, weights, biases, keep=False)[0]


def reference_mlp(h: torch.Tensor, weights, biases, activation: str, roots: int = 0) -> torch.Tensor:
    """What :func:`blocked_mlp` computes, as plain :func:`~causalppl.mechanisms.bank.stacked_mlp`
    calls: the first ``roots`` nets on one zero row (broadcast), the others on ``h``."""
    act, nets, batch = ACTIVATIONS[activation], weights[0].shape[0], h.shape[1]
    if not roots:  # (no slicing: a one-unit query runs this once per level, at a few us a slice)
        return stacked_mlp(h, weights, biases, act)
    zero = h.new_zeros(roots, 1, weights[0].shape[1])
    out = stacked_mlp(zero, [w[:roots] for w in weights], [b[:roots] for b in biases], act)
    out = out.expand(roots, batch, out.shape[-1])
    if roots == nets:
        return out
    return torch.cat([out, stacked_mlp(h, [w[roots:] for w in weights], [b[roots:] for b in biases], act)])


def _activate(pre: torch.Tensor, activation: str, sig: torch.Tensor | None) -> torch.Tensor:
    """The activation of the block ``pre``, written over it: the backward reads the output.
    silu also keeps its sigmoid in ``sig``, so that its derivative ``s + y (1 - s)`` costs
    three cheap passes (torch's ``silu_backward`` recomputes the sigmoid from ``pre``; with
    the recomputed output that was twice the time of this forward and backward together)."""
    if activation == "tanh":
        return pre.mul_(2).sigmoid_().mul_(2).sub_(1)  # tanh at a fifth of torch.tanh's cost
    if activation == "relu":
        return pre.relu_()
    return pre.mul_(torch.sigmoid(pre, out=sig))


def _backprop_activation(grad, y, activation: str, scratch: torch.Tensor, sig: torch.Tensor | None):
    """``grad *= act'`` in place, from the layer's output ``y`` (and silu's sigmoid ``sig``).
    Nothing is allocated: a fresh block-sized tensor per op costs page faults on every call."""
    if activation == "tanh":  # g (1 - y^2) = g - g y^2
        return grad.sub_(torch.mul(y, y, out=scratch).mul_(grad))
    if activation == "relu":  # y > 0 exactly where pre > 0
        return torch.ops.aten.threshold_backward.grad_input(grad, y, 0, grad_input=grad)
    d = torch.mul(y, sig, out=scratch)  # silu' = s + x s (1 - s) = s + y - y s
    return grad.mul_(torch.sub(y, d, out=d).add_(sig))


def _to_blocks(t: torch.Tensor, rows: int) -> torch.Tensor:
    """``[M, B, W]`` -> block-major ``[blocks, M, rows, W]`` (zero-padded rows), contiguous."""
    nets, batch, width = t.shape
    blocks = -(-batch // rows)
    if blocks * rows > batch:
        t = torch.cat([t, t.new_zeros(nets, blocks * rows - batch, width)], 1)
    return t.reshape(nets, blocks, rows, width).transpose(0, 1).contiguous()


def _forward(h, activation, rows, weights, biases, keep: bool):
    """Outputs ``[M, B, out]``, the blocked input, every hidden layer's blocked output and
    (silu) sigmoid. With ``keep`` these are kept for the backward in leased buffers (``flats``
    to give back); without, each layer reuses one scratch block."""
    depth = len(weights)
    hb = _to_blocks(h, rows)
    blocks, nets = hb.shape[:2]
    shapes = [(nets, rows, w.shape[-1]) for w in weights[:-1]]
    kinds = ["y", "sig"] if activation == "silu" else ["y"]
    wanted = [(f"{kind}{i}", shape) for kind in kinds for i, shape in enumerate(shapes)]
    if keep:
        leased = [lease(h, (blocks, *shape)) for _, shape in wanted]
        flats, views = [flat for flat, _ in leased], [view for _, view in leased]
    else:
        flats, views = [], [scratch(name, h, (1, *shape)) for name, shape in wanted]
    saved, sigs = views[: len(shapes)], views[len(shapes) :] or [None] * len(shapes)
    w_last = weights[-1].transpose(1, 2)  # the last layer runs transposed: [M, out, in]
    out_t = h.new_empty(blocks, nets, w_last.shape[1], rows)
    bias = [b.unsqueeze(1) for b in biases[:-1]]
    bias_last = biases[-1].unsqueeze(-1)
    for c in range(blocks):
        x, at = hb[c], c if keep else 0
        for i in range(depth - 1):
            pre = torch.baddbmm(bias[i], x, weights[i], out=saved[i][at])
            x = _activate(pre, activation, None if sigs[i] is None else sigs[i][at])
        torch.baddbmm(bias_last, w_last, x.transpose(1, 2), out=out_t[c])
    out = out_t.permute(1, 0, 3, 2).reshape(nets, blocks * rows, -1)[:, : h.shape[1]]
    return out, hb, saved, sigs, flats


def _run(h, activation, rows, roots, weights, biases, keep: bool):
    """Outputs ``[M, B, out]``, the pieces the backward reads (``(nets, blocked input,
    outputs, sigmoids)`` for the root nets on one zero row, then for the others) and the
    leased buffers to give back."""
    nets, batch = weights[0].shape[0], h.shape[1]
    parts = [(slice(0, roots), h.new_zeros(roots, 1, h.shape[-1]), 1)] if roots else []
    if roots < nets:
        parts.append((slice(roots, nets), h, rows))
    outs, pieces, flats = [], [], []
    for sl, x, r in parts:
        out, hb, saved, sigs, leased = _forward(
            x, activation, r, [w[sl] for w in weights], [b[sl] for b in biases], keep
        )
        outs.append(out.expand(out.shape[0], batch, out.shape[-1]))
        pieces.append((sl, hb, saved, sigs))
        flats += leased
    return (outs[0] if len(outs) == 1 else torch.cat(outs)), pieces, flats


class _BlockedMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, activation, rows, roots, *params):
        depth = len(params) // 2
        out, pieces, flats = _run(h, activation, rows, roots, params[:depth], params[depth:], keep=True)
        ctx.save_for_backward(h, *params)
        # The leased blocks are kept on ctx, not saved: their versions are checked by hand, so
        # that a reused lease means recomputing them rather than autograd's in-place error.
        ctx.pieces, ctx.flats, ctx.versions = pieces, flats, [f._version for f in flats]
        ctx.activation, ctx.rows, ctx.roots, ctx.depth = activation, rows, roots, depth
        return out

    @staticmethod
    def backward(ctx, grad):
        act, depth = ctx.activation, ctx.depth
        h, *params = ctx.saved_tensors
        weights, biases = params[:depth], params[depth:]
        if torch.is_grad_enabled():  # create_graph: differentiate the reference, so that
            return _reference_backward(ctx, grad, h, weights, biases)  # its gradient is too
        pieces, flats, versions = ctx.pieces, ctx.flats, ctx.versions
        if not still_ours(flats, versions):  # a retained graph whose leases were reused
            _, pieces, flats = _run(h, act, ctx.rows, ctx.roots, weights, biases, keep=True)
            versions = [f._version for f in flats]
        nets = weights[0].shape[0]
        g_w = [torch.zeros_like(w) for w in weights[:-1]]
        g_w.append(weights[-1].new_zeros(nets, weights[-1].shape[-1], weights[-1].shape[1]))  # transposed
        g_b = [w.new_zeros(nets, w.shape[-1]) for w in weights]
        g_h = None
        for sl, hb, saved, sigs in pieces:
            root = sl.start < ctx.roots
            found = _backward_piece(
                grad[sl].sum(1, keepdim=True) if root else grad[sl],
                hb,
                saved,
                sigs,
                [w[sl] for w in weights],
                act,
                [g[sl] for g in g_w],
                [g[sl] for g in g_b],
                want_input=not root and ctx.needs_input_grad[0],
            )
            g_h = found if found is not None else g_h
        give_back(flats, versions)
        if g_h is not None:
            g_h = g_h[:, : h.shape[1]]
        return (g_h, None, None, None, *g_w[:-1], g_w[-1].transpose(1, 2), *g_b)


def _backward_piece(grad, hb, saved, sigs, weights, act, g_w, g_b, want_input: bool):
    """Accumulate one piece's parameter gradients into ``g_w`` (the last one transposed) and
    ``g_b``, block by block; returns the input gradient ``[M', blocks * rows, P]`` if wanted."""
    depth = len(weights)
    blocks, nets, rows, width = hb.shape
    tmp = [scratch(f"tmp{i}", hb, t.shape[1:]) for i, t in enumerate(saved)]
    grads = [scratch(f"grad{i}", hb, t.shape[1:]) for i, t in enumerate(saved)]  # d loss / d layer i
    g_last = _to_blocks(grad, rows).transpose(2, 3).contiguous()  # [blocks, M', out, rows]
    g_h = torch.empty_like(hb) if want_input else None
    w_t = [w.transpose(1, 2).contiguous() for w in weights]  # once, not once per block
    for c in range(blocks):
        for i in range(depth - 1, -1, -1):
            inp = hb[c] if i == 0 else saved[i - 1][c]
            into = grads[i - 1] if i > 0 else (g_h[c] if want_input else None)
            if i == depth - 1:
                gt = g_last[c]  # [M', out, rows]
                g_b[i] += gt.sum(-1)
                g_w[i].baddbmm_(gt, inp)
                if into is not None:  # one output column: an outer product
                    g = (
                        torch.mul(gt.transpose(1, 2), w_t[i], out=into)
                        if gt.shape[1] == 1
                        else torch.bmm(gt.transpose(1, 2), w_t[i], out=into)
                    )
            else:
                g_b[i] += g.sum(1)
                g_w[i].baddbmm_(inp.transpose(1, 2), g)
                if into is not None:
                    g = torch.bmm(g, w_t[i], out=into)
            if i > 0:
                sig = None if sigs[i - 1] is None else sigs[i - 1][c]
                g = _backprop_activation(g, saved[i - 1][c], act, tmp[i - 1], sig)
    return g_h.transpose(0, 1).reshape(nets, blocks * rows, width) if want_input else None


def _reference_backward(ctx, grad, h, weights, biases):
    """The backward as autograd of the reference, for gradients that must be differentiable
    again (``create_graph=True``: gradient penalties, Hessian-vector products). The blocked
    backward writes in place into buffers no graph records; this one is slower and exact."""
    inputs = [h, *weights, *biases]
    needs = [ctx.needs_input_grad[0], *ctx.needs_input_grad[4:]]  # skip activation, rows, roots
    with torch.enable_grad():
        out = reference_mlp(h, weights, biases, ctx.activation, ctx.roots)
        found = iter(torch.autograd.grad(out, [t for t, need in zip(inputs, needs) if need], grad, create_graph=True))
    grads = [next(found) if need else None for need in needs]
    return (grads[0], None, None, None, *grads[1:])
