"""Triton kernels of the fused MLP decoder: forward, backward, weight-gradient GEMM.

Loaded by :func:`causalppl.kernels._backend.triton_module`; the entry point is
:func:`causalppl.kernels.decoder_forward`. Everything is computed in fp32.

* ``_forward_kernel``: grid (row blocks,). A program runs the hidden layers of its rows in
  registers (widths padded to powers of two), then loops over blocks of output columns:
  last layer + output activation, written once. Only ``y`` reaches memory.
* ``_backward_kernel``: grid (row blocks,). Recomputes the hidden layers, streams over the
  output blocks (``d pre-output = dy * out_act'``, accumulated into ``d h_last``), then
  walks the hidden layers backwards; it writes ``dz``, each layer's input activation and
  pre-activation gradient (``[B, H]``, small beside ``[B, P_out]``).
* ``_weight_grad_kernel``: ``A^T @ G`` over the batch (grid over output tiles, loop over
  rows), which turns those into the weight gradients without atomics.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _backend

__all__ = ["DecoderFunction", "backward", "forward"]

INTERPRETED = triton.knobs.runtime.interpret
_dev = _backend.triton_module("_device.py", INTERPRETED)
_act, _act_grad, _mm = _dev.act, _dev.act_grad, _dev.mm
MAX_HIDDEN = 3
_LAUNCH = {} if INTERPRETED else {"num_warps": 4, "enable_fp_fusion": True}


@triton.jit
def _dense(h, w, b, K, M, K_PAD: tl.constexpr, M_PAD: tl.constexpr, PREC: tl.constexpr):
    """``h @ w + b`` for a ``[K, M]`` weight, zero-padded to ``[K_PAD, M_PAD]``."""
    k = tl.arange(0, K_PAD)
    m = tl.arange(0, M_PAD)
    wt = tl.load(w + k[:, None] * M + m[None, :], mask=(k[:, None] < K) & (m[None, :] < M),
                 other=0.0)
    return _mm(h, wt, PREC) + tl.load(b + m, mask=m < M, other=0.0)[None, :]


@triton.jit
def _hidden(z, rows, row_ok, w1, b1, w2, b2, w3, b3, D, H1, H2, H3,
            D_PAD: tl.constexpr, H1_PAD: tl.constexpr, H2_PAD: tl.constexpr,
            H3_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr, ACT: tl.constexpr,
            PREC: tl.constexpr):
    """The hidden layers of a row block: input, pre-activations and activations."""
    d = tl.arange(0, D_PAD)
    h0 = tl.load(z + rows[:, None] * D + d[None, :], mask=row_ok[:, None] & (d < D)[None, :],
                 other=0.0)
    z1 = h0
    h1 = h0
    z2 = h0
    h2 = h0
    z3 = h0
    h3 = h0
    if NUM_HIDDEN >= 1:
        z1 = _dense(h0, w1, b1, D, H1, D_PAD, H1_PAD, PREC)
        h1 = _act(z1, ACT)
    if NUM_HIDDEN >= 2:
        z2 = _dense(h1, w2, b2, H1, H2, H1_PAD, H2_PAD, PREC)
        h2 = _act(z2, ACT)
    if NUM_HIDDEN >= 3:
        z3 = _dense(h2, w3, b3, H2, H3, H2_PAD, H3_PAD, PREC)
        h3 = _act(z3, ACT)
    return h0, z1, h1, z2, h2, z3, h3


@triton.jit
def _last_input(h0, h1, h2, h3, NUM_HIDDEN: tl.constexpr):
    if NUM_HIDDEN == 0:
        hl = h0
    elif NUM_HIDDEN == 1:
        hl = h1
    elif NUM_HIDDEN == 2:
        hl = h2
    else:
        hl = h3
    return hl


@triton.jit
def _forward_kernel(z, w1, b1, w2, b2, w3, b3, wl, bl, y,
                    B, D, H1, H2, H3, KL, OUT,
                    BB: tl.constexpr, D_PAD: tl.constexpr, H1_PAD: tl.constexpr,
                    H2_PAD: tl.constexpr, H3_PAD: tl.constexpr, KL_PAD: tl.constexpr,
                    BLOCK_OUT: tl.constexpr, NUM_HIDDEN: tl.constexpr, ACT: tl.constexpr,
                    OUT_ACT: tl.constexpr, PREC: tl.constexpr):
    rows = (tl.program_id(0) * BB + tl.arange(0, BB)).to(tl.int64)
    row_ok = rows < B
    h0, _, h1, _, h2, _, h3 = _hidden(z, rows, row_ok, w1, b1, w2, b2, w3, b3, D, H1, H2, H3,
                                      D_PAD, H1_PAD, H2_PAD, H3_PAD, NUM_HIDDEN, ACT, PREC)
    hl = _last_input(h0, h1, h2, h3, NUM_HIDDEN)
    k = tl.arange(0, KL_PAD)
    for o0 in tl.range(0, OUT, BLOCK_OUT):
        cols = o0 + tl.arange(0, BLOCK_OUT)
        col_ok = cols < OUT
        wt = tl.load(wl + k[:, None] * OUT + cols[None, :],
                     mask=(k[:, None] < KL) & col_ok[None, :], other=0.0)
        pre = _mm(hl, wt, PREC) + tl.load(bl + cols, mask=col_ok, other=0.0)[None, :]
        tl.store(y + rows[:, None] * OUT + cols[None, :], _act(pre, OUT_ACT),
                 mask=row_ok[:, None] & col_ok[None, :])


@triton.jit
def _store_rows(ptr, value, rows, row_ok, M, M_PAD: tl.constexpr):
    m = tl.arange(0, M_PAD)
    tl.store(ptr + rows[:, None] * M + m[None, :], value, mask=row_ok[:, None] & (m < M)[None, :])


@triton.jit
def _back_through(dh, zl, hl, w, K, M, K_PAD: tl.constexpr, M_PAD: tl.constexpr,
                  ACT: tl.constexpr, PREC: tl.constexpr):
    """Gradient of a hidden layer's pre-activation, and of its input (``[K, M]`` weight)."""
    dpre = dh * _act_grad(zl, hl, ACT)
    k = tl.arange(0, K_PAD)
    m = tl.arange(0, M_PAD)
    wt = tl.load(w + k[:, None] * M + m[None, :], mask=(k[:, None] < K) & (m[None, :] < M),
                 other=0.0)
    return dpre, _mm(dpre, tl.trans(wt), PREC)


@triton.jit
def _backward_kernel(z, w1, b1, w2, b2, w3, b3, wl, bl, y, gy,
                     gz, g_out, a1, a2, a3, d1, d2, d3,
                     B, D, H1, H2, H3, KL, OUT,
                     BB: tl.constexpr, D_PAD: tl.constexpr, H1_PAD: tl.constexpr,
                     H2_PAD: tl.constexpr, H3_PAD: tl.constexpr, KL_PAD: tl.constexpr,
                     BLOCK_OUT: tl.constexpr, NUM_HIDDEN: tl.constexpr, ACT: tl.constexpr,
                     OUT_ACT: tl.constexpr, PREC: tl.constexpr, NEED_DZ: tl.constexpr):
    rows = (tl.program_id(0) * BB + tl.arange(0, BB)).to(tl.int64)
    row_ok = rows < B
    h0, z1, h1, z2, h2, z3, h3 = _hidden(z, rows, row_ok, w1, b1, w2, b2, w3, b3, D, H1, H2,
                                         H3, D_PAD, H1_PAD, H2_PAD, H3_PAD, NUM_HIDDEN, ACT,
                                         PREC)
    k = tl.arange(0, KL_PAD)
    dh = tl.zeros((BB, KL_PAD), tl.float32)
    for o0 in tl.range(0, OUT, BLOCK_OUT):
        cols = o0 + tl.arange(0, BLOCK_OUT)
        ok = row_ok[:, None] & (cols < OUT)[None, :]
        offs = rows[:, None] * OUT + cols[None, :]
        dpre = tl.load(gy + offs, mask=ok, other=0.0)
        if OUT_ACT >= 0:
            yb = tl.load(y + offs, mask=ok, other=0.0)
            dpre = dpre * _act_grad(yb, yb, OUT_ACT)
            tl.store(g_out + offs, dpre, mask=ok)
        wt = tl.load(wl + k[:, None] * OUT + cols[None, :],
                     mask=(k[:, None] < KL) & (cols < OUT)[None, :], other=0.0)
        dh += _mm(dpre, tl.trans(wt), PREC)
    # inputs of the layers after the first are the weight-gradient GEMMs' left operands
    if NUM_HIDDEN >= 3:
        _store_rows(a3, h3, rows, row_ok, H3, H3_PAD)
        dpre3, dh = _back_through(dh, z3, h3, w3, H2, H3, H2_PAD, H3_PAD, ACT, PREC)
        _store_rows(d3, dpre3, rows, row_ok, H3, H3_PAD)
    if NUM_HIDDEN >= 2:
        _store_rows(a2, h2, rows, row_ok, H2, H2_PAD)
        dpre2, dh = _back_through(dh, z2, h2, w2, H1, H2, H1_PAD, H2_PAD, ACT, PREC)
        _store_rows(d2, dpre2, rows, row_ok, H2, H2_PAD)
    if NUM_HIDDEN >= 1:
        _store_rows(a1, h1, rows, row_ok, H1, H1_PAD)
        dpre1, dh = _back_through(dh, z1, h1, w1, D, H1, D_PAD, H1_PAD, ACT, PREC)
        _store_rows(d1, dpre1, rows, row_ok, H1, H1_PAD)
    if NEED_DZ:
        _store_rows(gz, dh, rows, row_ok, D, D_PAD)


@triton.jit
def _weight_grad_kernel(a, g, out, R, K, M, BK: tl.constexpr, BM: tl.constexpr,
                        BR: tl.constexpr, PREC: tl.constexpr):
    """``out[K, M] = a[R, K]^T @ g[R, M]`` with fp32 accumulation, one tile per program."""
    k = tl.program_id(0) * BK + tl.arange(0, BK)
    m = tl.program_id(1) * BM + tl.arange(0, BM)
    acc = tl.zeros((BK, BM), tl.float32)
    for r0 in tl.range(0, R, BR):
        r = (r0 + tl.arange(0, BR)).to(tl.int64)
        at = tl.load(a + r[:, None] * K + k[None, :], mask=(r < R)[:, None] & (k < K)[None, :],
                     other=0.0)
        gt = tl.load(g + r[:, None] * M + m[None, :], mask=(r < R)[:, None] & (m < M)[None, :],
                     other=0.0)
        acc += _mm(tl.trans(at), gt, PREC)
    tl.store(out + k[:, None] * M + m[None, :], acc, mask=(k < K)[:, None] & (m < M)[None, :])


# ----------------------------------------------------------------------------- host side


def _pad(n: int) -> int:
    # tl.dot needs every dimension >= 16 on the GPU; the interpreter runs the same shapes
    return max(16, triton.next_power_of_2(int(n)))


def _blocks() -> tuple[int, int]:
    """(rows per program, output columns per step)."""
    return (64, 32) if INTERPRETED else (32, 64)


def _layers(z, weights, biases, activation, out_activation):
    """fp32 pointers ``w1, b1, w2, b2, w3, b3, wl, bl`` (unused ones repeat ``wl, bl``),
    the sizes and the compile-time constants."""
    ws = [w.to(torch.float32).contiguous() for w in weights]
    bs = [b.to(torch.float32).contiguous() for b in biases]
    hidden = len(ws) - 1
    widths = [z.shape[1]] + [w.shape[1] for w in ws]
    sizes = [widths[i + 1] if i < hidden else 1 for i in range(MAX_HIDDEN)]
    ptrs = []
    for i in range(MAX_HIDDEN):
        ptrs += [ws[i], bs[i]] if i < hidden else [ws[-1], bs[-1]]
    ptrs += [ws[-1], bs[-1]]
    kl, out = widths[-2], widths[-1]
    bb, block_out = _blocks()
    meta = dict(BB=bb, D_PAD=_pad(widths[0]), H1_PAD=_pad(sizes[0]), H2_PAD=_pad(sizes[1]),
                H3_PAD=_pad(sizes[2]), KL_PAD=_pad(kl), BLOCK_OUT=block_out,
                NUM_HIDDEN=hidden, ACT=_dev.ACT_CODES[activation],
                OUT_ACT=_dev.OUT_CODES[out_activation],
                PREC=_dev.precision_code(_backend.precision(), INTERPRETED))
    return ptrs, (z.shape[0], widths[0], *sizes, kl, out), meta


def forward(z, weights, biases, activation, out_activation=None):
    """Launch the fused forward on fp32 copies; returns ``y [B, P_out]``."""
    z = z.to(torch.float32).contiguous()
    ptrs, dims, meta = _layers(z, weights, biases, activation, out_activation)
    y = z.new_empty(z.shape[0], dims[-1])
    _forward_kernel[(triton.cdiv(z.shape[0], meta["BB"]),)](z, *ptrs, y, *dims, **meta, **_LAUNCH)
    return y


def weight_grad(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``a^T @ g`` (``[R, K]``, ``[R, M]`` -> ``[K, M]``) with the decoder's precision."""
    r, k = a.shape
    m = g.shape[1]
    out = a.new_empty(k, m)
    bk, bm = min(64, _pad(k)), min(64, _pad(m))
    _weight_grad_kernel[(triton.cdiv(k, bk), triton.cdiv(m, bm))](
        a, g, out, r, k, m, BK=bk, BM=bm, BR=32 if INTERPRETED else 64,
        PREC=_dev.precision_code(_backend.precision(), INTERPRETED), **_LAUNCH)
    return out


def backward(z, weights, biases, activation, out_activation, y, gy, need_dz: bool):
    """Gradients ``(dz, dweights, dbiases)`` of ``sum(gy * y)``."""
    z = z.to(torch.float32).contiguous()
    gy = gy.to(torch.float32).contiguous()
    ptrs, dims, meta = _layers(z, weights, biases, activation, out_activation)
    b, hidden = z.shape[0], meta["NUM_HIDDEN"]
    sizes = dims[2:2 + MAX_HIDDEN]
    acts = [z.new_empty(b, sizes[i]) if i < hidden else z for i in range(MAX_HIDDEN)]
    dpres = [z.new_empty(b, sizes[i]) if i < hidden else z for i in range(MAX_HIDDEN)]
    g_out = torch.empty_like(gy) if out_activation is not None else gy
    gz = torch.empty_like(z) if need_dz else z
    _backward_kernel[(triton.cdiv(b, meta["BB"]),)](
        z, *ptrs, y.to(torch.float32).contiguous(), gy, gz, g_out, *acts, *dpres, *dims,
        **meta, NEED_DZ=need_dz, **_LAUNCH)
    inputs = [z, *acts[:hidden]]  # the input of each layer
    grads_pre = [*dpres[:hidden], g_out]  # the gradient of each layer's pre-activation
    dweights = [weight_grad(a, g) for a, g in zip(inputs, grads_pre)]
    dbiases = [g.sum(dim=0) for g in grads_pre]
    return (gz if need_dz else None), dweights, dbiases


class DecoderFunction(torch.autograd.Function):
    """Autograd wrapper of the fused decoder. Arguments: ``z, activation, out_activation,
    *weights, *biases``. First-order gradients only."""

    @staticmethod
    def forward(ctx, z, activation, out_activation, *params):
        num_layers = len(params) // 2
        y = forward(z, params[:num_layers], params[num_layers:], activation, out_activation)
        ctx.save_for_backward(z, y, *params)
        ctx.activation, ctx.out_activation, ctx.num_layers = activation, out_activation, num_layers
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):
        z, y, *params = ctx.saved_tensors
        n = ctx.num_layers
        dz, dw, db = backward(z, params[:n], params[n:], ctx.activation, ctx.out_activation, y,
                              gy, need_dz=ctx.needs_input_grad[0])
        return (dz, None, None, *dw, *db)
