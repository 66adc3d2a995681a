"""Triton kernels of the MLP decoder: one tiled GEMM kernel with fused prologue/epilogue.

Loaded by :func:`causalppl.kernels._backend.triton_module`; the entry point is
:func:`causalppl.kernels.decoder_forward`. Everything is computed with fp32 accumulation.

``_linear_kernel`` computes ``C = act(A @ B + bias)`` over ``[BM, BN]`` output tiles with a
K loop, where ``A`` and ``B`` are read through strides (so a transpose is free) and either
operand may be multiplied on load by an activation derivative (``dY * act'(S)``, the
gradient of a pre-activation). One kernel serves the whole decoder:

* forward, per layer: ``h_l = act(h_{l-1} @ W_l + b_l)`` (bias and activation fused; the
  pre-activation is kept only for SiLU, whose derivative needs it);
* backward, per layer: ``dW_l = h_{l-1}^T @ (dh_l * act'(.))`` with the bias gradient
  summed from the same tiles, and ``dh_{l-1} = (dh_l * act'(.)) @ W_l^T``: the
  pre-activation gradient is never written to memory.

A first version fused the whole chain into one kernel (hidden layers in registers); it did
not fit an H100 once a hidden layer reached 256 (NOTES.md), so the fusion is per layer.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _backend

__all__ = ["DecoderFunction", "backward", "forward", "linear"]

INTERPRETED = triton.knobs.runtime.interpret
_dev = _backend.triton_module("_device.py", INTERPRETED)
_act, _act_grad, _mm = _dev.act, _dev.act_grad, _dev.mm
NO_PROLOGUE = -9  # operand read as is


@triton.jit
def _operand(ptr, src, grad, r, c, R, C, sr, sc, GRAD_ACT: tl.constexpr):
    """A ``[len(r), len(c)]`` operand tile; with ``GRAD_ACT`` it is ``ptr * act'(src)``."""
    ok = (r[:, None] < R) & (c[None, :] < C)
    offs = r[:, None] * sr + c[None, :] * sc
    t = tl.load(ptr + offs, mask=ok, other=0.0)
    if GRAD_ACT != -9:
        s = tl.load(src + offs, mask=ok, other=0.0)
        t = t * _act_grad(s, s, GRAD_ACT)
    return t


@triton.jit
def _linear_kernel(
    a,
    b,
    c,
    bias,
    pre,
    dbias,
    a_src,
    b_src,
    M,
    N,
    K,
    sam,
    sak,
    sbk,
    sbn,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr,
    STORE_PRE: tl.constexpr,
    A_GRAD_ACT: tl.constexpr,
    B_GRAD_ACT: tl.constexpr,
    DBIAS: tl.constexpr,
    PREC: tl.constexpr,
):
    """``c[M, N] = act(a @ b + bias)``; ``dbias[N]`` = column sums of ``b`` (when DBIAS)."""
    pid_m = tl.program_id(0)
    rm = (pid_m * BM + tl.arange(0, BM)).to(tl.int64)
    rn = (tl.program_id(1) * BN + tl.arange(0, BN)).to(tl.int64)
    acc = tl.zeros((BM, BN), tl.float32)
    col_sum = tl.zeros((BN,), tl.float32)
    for k0 in tl.range(0, K, BK):
        rk = (k0 + tl.arange(0, BK)).to(tl.int64)
        at = _operand(a, a_src, 0, rm, rk, M, K, sam, sak, A_GRAD_ACT)
        bt = _operand(b, b_src, 0, rk, rn, K, N, sbk, sbn, B_GRAD_ACT)
        if DBIAS:
            col_sum += tl.sum(bt, axis=0)
        acc += _mm(at, bt, PREC)
    if HAS_BIAS:
        acc += tl.load(bias + rn, mask=rn < N, other=0.0)[None, :]
    ok = (rm[:, None] < M) & (rn[None, :] < N)
    offs = rm[:, None] * N + rn[None, :]
    if STORE_PRE:
        tl.store(pre + offs, acc, mask=ok)
    tl.store(c + offs, _act(acc, ACT), mask=ok)
    if DBIAS:  # every row of programs sums the same columns; the first one writes them
        tl.store(dbias + rn, col_sum, mask=rn < tl.where(pid_m == 0, N, 0))


# ----------------------------------------------------------------------------- host side


def _tiles() -> tuple[int, int, int, dict]:
    """(BM, BN, BK, launch options): checked free of spills on sm_90 (NOTES.md)."""
    if INTERPRETED:
        return 64, 32, 32, {}
    return 64, 64, 32, {"num_warps": 4, "enable_fp_fusion": True}


def linear(a, b, bias=None, act=-1, store_pre=False, a_grad=None, b_grad=None, dbias=False):
    """``act(a @ b + bias)`` for 2-D fp32 tensors with any strides.

    ``a_grad=(source, code)`` multiplies ``a`` elementwise by ``act'(source)`` on load (the
    same for ``b``); ``dbias`` also returns the column sums of the (multiplied) ``b``.
    Returns ``(c, pre or None, column sums or None)``.
    """
    m, k = a.shape
    n = b.shape[1]
    bm, bn, bk, options = _tiles()
    c = a.new_empty(m, n)
    pre = a.new_empty(m, n) if store_pre else c
    sums = a.new_empty(n) if dbias else c
    a_src, a_code = a_grad if a_grad is not None else (a, NO_PROLOGUE)
    b_src, b_code = b_grad if b_grad is not None else (b, NO_PROLOGUE)
    if a_grad is not None:
        assert a_src.stride() == a.stride()
    if b_grad is not None:
        assert b_src.stride() == b.stride()
    _linear_kernel[(triton.cdiv(m, bm), triton.cdiv(n, bn))](
        a,
        b,
        c,
        c if bias is None else bias,
        pre,
        sums,
        a_src,
        b_src,
        m,
        n,
        k,
        a.stride(0),
        a.stride(1),
        b.stride(0),
        b.stride(1),
        BM=bm,
        BN=bn,
        BK=bk,
        HAS_BIAS=bias is not None,
        ACT=act,
        STORE_PRE=store_pre,
        A_GRAD_ACT=a_code,
        B_GRAD_ACT=b_code,
        DBIAS=dbias,
        PREC=_dev.precision_code(_backend.precision(), INTERPRETED),
        **options,
    )
    return c, (pre if store_pre else None), (sums if dbias else None)


def _codes(num_layers, activation, out_activation):
    hidden = _dev.ACT_CODES[activation]
    return [hidden] * (num_layers - 1) + [_dev.OUT_CODES[out_activation]]


def forward(z, weights, biases, activation, out_activation=None, keep=False):
    """Run the layers; with ``keep`` also return what the backward needs per layer:
    ``(input, derivative source)``, the source being the pre-activation for SiLU layers
    and the layer's output otherwise."""
    h = z.to(torch.float32).contiguous()
    saved = []
    codes = _codes(len(weights), activation, out_activation)
    for w, b, code in zip(weights, biases, codes):
        w = w.to(torch.float32).contiguous()
        b = b.to(torch.float32).contiguous()
        needs_pre = keep and code == _dev.ACT_CODES["silu"]
        out, pre, _ = linear(h, w, b, act=code, store_pre=needs_pre)
        saved.append((h, pre if needs_pre else out))
        h = out
    return (h, saved) if keep else h


def backward(weights, saved, gy, activation, out_activation, need_dz: bool):
    """Gradients ``(dz, dweights, dbiases)`` from the forward's ``saved`` tensors."""
    codes = _codes(len(weights), activation, out_activation)
    grad = gy.to(torch.float32).contiguous()
    dweights, dbiases = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        inp, source = saved[layer]
        code = codes[layer]
        prologue = None if code == _dev.OUT_CODES[None] else (source, code)
        # dW = inp^T @ (grad * act'), with the bias gradient from the same tiles
        dweights[layer], _, dbiases[layer] = linear(inp.t(), grad, b_grad=prologue, dbias=True)
        if layer > 0 or need_dz:
            w = weights[layer].to(torch.float32).contiguous()
            grad, _, _ = linear(grad, w.t(), a_grad=prologue)
    return (grad if need_dz else None), dweights, dbiases


class DecoderFunction(torch.autograd.Function):
    """Autograd wrapper of the decoder kernels. Arguments: ``z, activation, out_activation,
    *weights, *biases``. First-order gradients only."""

    @staticmethod
    def forward(ctx, z, activation, out_activation, *params):
        num_layers = len(params) // 2
        weights, biases = params[:num_layers], params[num_layers:]
        y, saved = forward(z, weights, biases, activation, out_activation, keep=True)
        flat = [t for pair in saved for t in pair]
        ctx.save_for_backward(*weights, *flat)
        ctx.activation, ctx.out_activation, ctx.num_layers = activation, out_activation, num_layers
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):
        n = ctx.num_layers
        weights, flat = ctx.saved_tensors[:n], ctx.saved_tensors[n:]
        saved = [(flat[2 * i], flat[2 * i + 1]) for i in range(n)]
        dz, dw, db = backward(weights, saved, gy, ctx.activation, ctx.out_activation, need_dz=ctx.needs_input_grad[0])
        return (dz, None, None, *dw, *db)
