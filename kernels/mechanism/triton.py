"""Triton kernels of the stacked per-node mechanisms: forward, backward, ancestral sampling.

Loaded by :func:`causalppl.kernels._backend.triton_module` (one copy per mode); the public
entry points are in :mod:`causalppl.kernels.mechanism`. Everything is computed in fp32.

* ``_forward_kernel``: grid (row blocks, nodes). A program gathers its rows' parents,
  runs node ``j``'s MLP in registers and writes ``loc``, ``scale``, ``u`` and the node's
  log-density (``[B, N]`` each); the row sum of the last is ``log_prob``. No ``B×N×H``
  tensor is written.
* ``_backward_kernel``: grid (nodes, row splits). A program owns node ``j`` and a range of
  rows, *recomputes* the hidden activations block by block and accumulates the weight
  gradients in registers; each split writes one partial sum (summed on the host side), and
  the parent gradients ``[B, N, P]`` are scattered into ``dx`` with ``index_add``.
* ``_sample_dag_kernel``: grid (row blocks,). A program walks all nodes in topological
  order; parents are read back from the output it just wrote (L1/L2), with a barrier
  between nodes. ``_sample_level_kernel``: grid (row blocks, nodes of one level), one
  launch per level.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _backend
from .reference import HALF_LOG_2PI, SCALE_FLOOR

__all__ = ["MechanismFunction", "forward", "sample"]

INTERPRETED = triton.knobs.runtime.interpret
_dev = _backend.triton_module("_device.py", INTERPRETED)
_act, _act_grad, _mm, _softplus = _dev.act, _dev.act_grad, _dev.mm, _dev.softplus
_FLOOR = tl.constexpr(SCALE_FLOOR)
_HALF_LOG_2PI = tl.constexpr(HALF_LOG_2PI)


@triton.jit
def _rows(start, stop, BB: tl.constexpr):
    rows = start + tl.arange(0, BB)
    return rows.to(tl.int64), rows < stop


@triton.jit
def _matrix(ptr, j, K, M, K_PAD: tl.constexpr, M_PAD: tl.constexpr):
    """Node ``j``'s ``[K, M]`` block of a stacked ``[N, K, M]`` tensor, zero-padded."""
    k = tl.arange(0, K_PAD)
    m = tl.arange(0, M_PAD)
    ok = (k[:, None] < K) & (m[None, :] < M)
    return tl.load(ptr + j * K * M + k[:, None] * M + m[None, :], mask=ok, other=0.0)


@triton.jit
def _vector(ptr, j, M, M_PAD: tl.constexpr):
    m = tl.arange(0, M_PAD)
    return tl.load(ptr + j * M + m, mask=m < M, other=0.0)


@triton.jit
def _column(ptr, j, K, O, c, K_PAD: tl.constexpr):
    """Column ``c`` of node ``j``'s last-layer weight ``[K, O]``."""
    k = tl.arange(0, K_PAD)
    return tl.load(ptr + j * K * O + k * O + c, mask=k < K, other=0.0)


@triton.jit
def _parents(x, rows, row_ok, pidx, pmask, j, N, P, P_PAD: tl.constexpr):
    """Masked parent values ``[BB, P_PAD]``; padding (mask 0) is never read."""
    p = tl.arange(0, P_PAD)
    idx = tl.load(pidx + j * P + p, mask=p < P, other=0)
    pm = tl.load(pmask + j * P + p, mask=p < P, other=0.0)
    ok = row_ok[:, None] & (pm != 0.0)[None, :]
    xp = tl.load(x + rows[:, None] * N + idx[None, :], mask=ok, other=0.0)
    return xp * pm[None, :], pm


@triton.jit
def _mlp(xp, j, wa, ba, wb, bb, wl, bl, P, HA, HB, KL, O,
         P_PAD: tl.constexpr, HA_PAD: tl.constexpr, HB_PAD: tl.constexpr, KL_PAD: tl.constexpr,
         NUM_HIDDEN: tl.constexpr, LOC_SCALE: tl.constexpr, ACT: tl.constexpr,
         PREC: tl.constexpr):
    """Node ``j``'s MLP on a row block: pre-activations, activations, ``loc`` and raw scale."""
    if NUM_HIDDEN >= 1:
        wa_j = _matrix(wa, j, P, HA, P_PAD, HA_PAD)
        za = _mm(xp, wa_j, PREC) + _vector(ba, j, HA, HA_PAD)[None, :]
        ha = _act(za, ACT)
        if NUM_HIDDEN == 2:
            wbj = _matrix(wb, j, HA, HB, HA_PAD, HB_PAD)
            zb = _mm(ha, wbj, PREC) + _vector(bb, j, HB, HB_PAD)[None, :]
            hb = _act(zb, ACT)
            hl = hb
        else:
            zb = za
            hb = ha
            hl = ha
    else:
        za = xp
        ha = xp
        zb = xp
        hb = xp
        hl = xp
    w_loc = _column(wl, j, KL, O, 0, KL_PAD)
    loc = tl.sum(hl * w_loc[None, :], axis=1) + tl.load(bl + j * O)
    if LOC_SCALE:
        w_raw = _column(wl, j, KL, O, 1, KL_PAD)
        raw = tl.sum(hl * w_raw[None, :], axis=1) + tl.load(bl + j * O + 1)
    else:
        raw = loc
    return za, ha, zb, hb, hl, loc, raw


@triton.jit
def _scale(raw, scale, j, LOC_SCALE: tl.constexpr):
    if LOC_SCALE:
        s = _softplus(raw) + _FLOOR
    else:
        s = tl.load(scale + j) + tl.zeros_like(raw)
    return s


@triton.jit
def _forward_kernel(x, pidx, pmask, wa, ba, wb, bb, wl, bl, scale,
                    loc_out, scale_out, u_out, lp_out,
                    B, N, P, HA, HB, KL, O,
                    BB: tl.constexpr, P_PAD: tl.constexpr, HA_PAD: tl.constexpr,
                    HB_PAD: tl.constexpr, KL_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr,
                    LOC_SCALE: tl.constexpr, ACT: tl.constexpr, PREC: tl.constexpr):
    j = tl.program_id(1)
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    xp, pm = _parents(x, rows, row_ok, pidx, pmask, j, N, P, P_PAD)
    _, _, _, _, _, loc, raw = _mlp(xp, j, wa, ba, wb, bb, wl, bl, P, HA, HB, KL, O, P_PAD,
                                   HA_PAD, HB_PAD, KL_PAD, NUM_HIDDEN, LOC_SCALE, ACT, PREC)
    s = _scale(raw, scale, j, LOC_SCALE)
    off = rows * N + j
    u = (tl.load(x + off, mask=row_ok, other=0.0) - loc) / s
    tl.store(loc_out + off, loc, mask=row_ok)
    tl.store(scale_out + off, s, mask=row_ok)
    tl.store(u_out + off, u, mask=row_ok)
    tl.store(lp_out + off, -0.5 * u * u - tl.log(s) - _HALF_LOG_2PI, mask=row_ok)


@triton.jit
def _backward_kernel(x, pidx, pmask, wa, ba, wb, bb, wl, bl, scale,
                     g_loc, g_scale, g_u, g_lp,
                     dx_direct, dxp, gwa, gba, gwb, gbb, gwl, gbl, gscale,
                     B, N, P, HA, HB, KL, O, rows_per_split,
                     BB: tl.constexpr, P_PAD: tl.constexpr, HA_PAD: tl.constexpr,
                     HB_PAD: tl.constexpr, KL_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr,
                     LOC_SCALE: tl.constexpr, ACT: tl.constexpr, PREC: tl.constexpr,
                     HAS_G_LOC: tl.constexpr, HAS_G_SCALE: tl.constexpr,
                     HAS_G_U: tl.constexpr, HAS_G_LP: tl.constexpr, NEED_DX: tl.constexpr):
    j = tl.program_id(0)
    split = tl.program_id(1)
    start = split * rows_per_split
    stop = tl.minimum(start + rows_per_split, B)
    p = tl.arange(0, P_PAD)
    # weights of node j, loaded once for all its rows
    if NUM_HIDDEN >= 1:
        wa_j = _matrix(wa, j, P, HA, P_PAD, HA_PAD)
    if NUM_HIDDEN == 2:
        wb_j = _matrix(wb, j, HA, HB, HA_PAD, HB_PAD)
    wl_loc = _column(wl, j, KL, O, 0, KL_PAD)
    wl_raw = _column(wl, j, KL, O, O - 1, KL_PAD)
    # fp32 accumulators of this program's share of the weight gradients
    acc_wa = tl.zeros((P_PAD, HA_PAD), tl.float32)
    acc_ba = tl.zeros((HA_PAD,), tl.float32)
    acc_wb = tl.zeros((HA_PAD, HB_PAD), tl.float32)
    acc_bb = tl.zeros((HB_PAD,), tl.float32)
    acc_wl_loc = tl.zeros((KL_PAD,), tl.float32)
    acc_wl_raw = tl.zeros((KL_PAD,), tl.float32)
    acc_bl_loc = tl.zeros((BB,), tl.float32)
    acc_bl_raw = tl.zeros((BB,), tl.float32)
    acc_scale = tl.zeros((BB,), tl.float32)
    for r0 in tl.range(start, stop, BB):
        rows, row_ok = _rows(r0, stop, BB)
        off = rows * N + j
        xp, pm = _parents(x, rows, row_ok, pidx, pmask, j, N, P, P_PAD)
        za, ha, zb, hb, hl, loc, raw = _mlp(xp, j, wa, ba, wb, bb, wl, bl, P, HA, HB, KL, O,
                                            P_PAD, HA_PAD, HB_PAD, KL_PAD, NUM_HIDDEN,
                                            LOC_SCALE, ACT, PREC)
        s = _scale(raw, scale, j, LOC_SCALE)
        u = (tl.load(x + off, mask=row_ok, other=0.0) - loc) / s
        # d/du of everything downstream of u, including log_prob = sum(-u^2/2 - log s)
        g_total = tl.zeros_like(u)
        ds = tl.zeros_like(u)
        if HAS_G_U:
            g_total += tl.load(g_u + off, mask=row_ok, other=0.0)
        if HAS_G_LP:
            glp = tl.load(g_lp + rows, mask=row_ok, other=0.0)
            g_total -= glp * u
            ds -= glp / s
        dxj = g_total / s
        dloc = -dxj
        ds -= dxj * u
        if HAS_G_LOC:
            dloc += tl.load(g_loc + off, mask=row_ok, other=0.0)
        if HAS_G_SCALE:
            ds += tl.load(g_scale + off, mask=row_ok, other=0.0)
        dloc = tl.where(row_ok, dloc, 0.0)
        ds = tl.where(row_ok, ds, 0.0)
        if NEED_DX:
            tl.store(dx_direct + off, dxj, mask=row_ok)
        acc_bl_loc += dloc
        acc_wl_loc += tl.sum(hl * dloc[:, None], axis=0)
        dhl = dloc[:, None] * wl_loc[None, :]
        if LOC_SCALE:
            draw = ds * tl.sigmoid(raw)
            acc_bl_raw += draw
            acc_wl_raw += tl.sum(hl * draw[:, None], axis=0)
            dhl += draw[:, None] * wl_raw[None, :]
        else:
            acc_scale += ds
        if NUM_HIDDEN == 2:
            dzb = dhl * _act_grad(zb, hb, ACT)
            acc_wb += _mm(tl.trans(ha), dzb, PREC)
            acc_bb += tl.sum(dzb, axis=0)
            dha = _mm(dzb, tl.trans(wb_j), PREC)
        else:
            dha = dhl
        if NUM_HIDDEN >= 1:
            dza = dha * _act_grad(za, ha, ACT)
            acc_wa += _mm(tl.trans(xp), dza, PREC)
            acc_ba += tl.sum(dza, axis=0)
            if NEED_DX:
                dxp_rows = _mm(dza, tl.trans(wa_j), PREC)
        else:
            dxp_rows = dha
        if NEED_DX:
            ok = row_ok[:, None] & (p < P)[None, :]
            dxp_offs = (rows[:, None] * N + j) * P + p[None, :]
            tl.store(dxp + dxp_offs, dxp_rows * pm[None, :], mask=ok)
    # this split's partial sums: [S, N, ...] buffers, summed by the launcher
    ha_i = tl.arange(0, HA_PAD)
    hb_i = tl.arange(0, HB_PAD)
    kl_i = tl.arange(0, KL_PAD)
    node = split * N + j
    if NUM_HIDDEN >= 1:
        ok = (p[:, None] < P) & (ha_i[None, :] < HA)
        tl.store(gwa + node * P * HA + p[:, None] * HA + ha_i[None, :], acc_wa, mask=ok)
        tl.store(gba + node * HA + ha_i, acc_ba, mask=ha_i < HA)
    if NUM_HIDDEN == 2:
        ok = (ha_i[:, None] < HA) & (hb_i[None, :] < HB)
        tl.store(gwb + node * HA * HB + ha_i[:, None] * HB + hb_i[None, :], acc_wb, mask=ok)
        tl.store(gbb + node * HB + hb_i, acc_bb, mask=hb_i < HB)
    tl.store(gwl + node * KL * O + kl_i * O, acc_wl_loc, mask=kl_i < KL)
    tl.store(gbl + node * O, tl.sum(acc_bl_loc, axis=0))
    if LOC_SCALE:
        tl.store(gwl + node * KL * O + kl_i * O + 1, acc_wl_raw, mask=kl_i < KL)
        tl.store(gbl + node * O + 1, tl.sum(acc_bl_raw, axis=0))
    else:
        tl.store(gscale + node, tl.sum(acc_scale, axis=0))


@triton.jit
def _sample_node(j, rows, row_ok, u, x, pidx, pmask, wa, ba, wb, bb, wl, bl, scale,
                 imask, ivalue, N, P, HA, HB, KL, O,
                 P_PAD: tl.constexpr, HA_PAD: tl.constexpr, HB_PAD: tl.constexpr,
                 KL_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr, LOC_SCALE: tl.constexpr,
                 ACT: tl.constexpr, PREC: tl.constexpr, INTERVENE: tl.constexpr):
    """``x[:, j] = loc_j(parents) + scale_j * u[:, j]``, or the intervention value."""
    xp, _ = _parents(x, rows, row_ok, pidx, pmask, j, N, P, P_PAD)
    _, _, _, _, _, loc, raw = _mlp(xp, j, wa, ba, wb, bb, wl, bl, P, HA, HB, KL, O, P_PAD,
                                   HA_PAD, HB_PAD, KL_PAD, NUM_HIDDEN, LOC_SCALE, ACT, PREC)
    off = rows * N + j
    value = loc + _scale(raw, scale, j, LOC_SCALE) * tl.load(u + off, mask=row_ok, other=0.0)
    if INTERVENE:
        hit = tl.load(imask + off, mask=row_ok, other=0) != 0
        value = tl.where(hit, tl.load(ivalue + off, mask=row_ok, other=0.0), value)
    tl.store(x + off, value, mask=row_ok)


@triton.jit
def _sample_dag_kernel(u, x, order, pidx, pmask, wa, ba, wb, bb, wl, bl, scale, imask, ivalue,
                       B, N, P, HA, HB, KL, O,
                       BB: tl.constexpr, P_PAD: tl.constexpr, HA_PAD: tl.constexpr,
                       HB_PAD: tl.constexpr, KL_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr,
                       LOC_SCALE: tl.constexpr, ACT: tl.constexpr, PREC: tl.constexpr,
                       INTERVENE: tl.constexpr):
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    for t in tl.range(0, N):
        j = tl.load(order + t)
        _sample_node(j, rows, row_ok, u, x, pidx, pmask, wa, ba, wb, bb, wl, bl, scale, imask,
                     ivalue, N, P, HA, HB, KL, O, P_PAD, HA_PAD, HB_PAD, KL_PAD, NUM_HIDDEN,
                     LOC_SCALE, ACT, PREC, INTERVENE)
        # the next node may read this one's column, written by other threads of the program
        tl.debug_barrier()


@triton.jit
def _sample_level_kernel(u, x, nodes, pidx, pmask, wa, ba, wb, bb, wl, bl, scale, imask, ivalue,
                         B, N, P, HA, HB, KL, O,
                         BB: tl.constexpr, P_PAD: tl.constexpr, HA_PAD: tl.constexpr,
                         HB_PAD: tl.constexpr, KL_PAD: tl.constexpr, NUM_HIDDEN: tl.constexpr,
                         LOC_SCALE: tl.constexpr, ACT: tl.constexpr, PREC: tl.constexpr,
                         INTERVENE: tl.constexpr):
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    j = tl.load(nodes + tl.program_id(1))
    _sample_node(j, rows, row_ok, u, x, pidx, pmask, wa, ba, wb, bb, wl, bl, scale, imask,
                 ivalue, N, P, HA, HB, KL, O, P_PAD, HA_PAD, HB_PAD, KL_PAD, NUM_HIDDEN,
                 LOC_SCALE, ACT, PREC, INTERVENE)


# ----------------------------------------------------------------------------- host side

_LAUNCH = {} if INTERPRETED else {"num_warps": 4, "enable_fp_fusion": True}


def _pad(n: int) -> int:
    # tl.dot needs every dimension >= 16 on the GPU; the interpreter runs the same shapes
    return max(16, triton.next_power_of_2(int(n)))


def _block_rows(kind: str) -> int:
    if INTERPRETED:
        return 64  # few programs: the interpreter pays per program and per op, not per element
    return {"forward": 64, "backward": 64, "sample": 64}[kind]


def _network(parent_index, weights, biases, scale, activation: str):
    """Kernel arguments for one stacked network: pointers (unused ones repeat a valid one)."""
    f32 = [w.to(torch.float32).contiguous() for w in weights]
    b32 = [b.to(torch.float32).contiguous() for b in biases]
    hidden = len(weights) - 1
    n, p = parent_index.shape
    widths = [p] + [w.shape[-1] for w in weights]
    ha = widths[1] if hidden >= 1 else 1
    hb = widths[2] if hidden >= 2 else 1
    kl, out = widths[-2], widths[-1]
    wa, ba = (f32[0], b32[0]) if hidden >= 1 else (f32[-1], b32[-1])
    wb, bb = (f32[1], b32[1]) if hidden >= 2 else (wa, ba)
    ptrs = (wa, ba, wb, bb, f32[-1], b32[-1],
            f32[-1] if scale is None else scale.to(torch.float32).contiguous())
    dims = (n, p, ha, hb, kl, out)
    meta = dict(P_PAD=_pad(p), HA_PAD=_pad(ha), HB_PAD=_pad(hb), KL_PAD=_pad(kl),
                NUM_HIDDEN=hidden, LOC_SCALE=out == 2, ACT=_dev.ACT_CODES[activation],
                PREC=_dev.precision_code(_backend.precision(), INTERPRETED))
    return ptrs, dims, meta


def _graph(parent_index, parent_mask):
    return parent_index.to(torch.int32).contiguous(), parent_mask.to(torch.float32).contiguous()


def forward(x, parent_index, parent_mask, weights, biases, activation, scale=None):
    """Launch the forward kernel on fp32 copies; returns ``(loc, scale, u, log_prob)``."""
    x = x.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, (n, p, ha, hb, kl, out), meta = _network(parent_index, weights, biases, scale, activation)
    b = x.shape[0]
    loc, s, u, lp = (torch.empty_like(x) for _ in range(4))
    bb = _block_rows("forward")
    _forward_kernel[(triton.cdiv(b, bb), n)](
        x, pidx, pmask, *ptrs, loc, s, u, lp, b, n, p, ha, hb, kl, out, BB=bb, **meta, **_LAUNCH)
    return loc, s, u, lp.sum(dim=1)


def _splits(b: int, n: int, bb: int, device: torch.device) -> tuple[int, int]:
    """Row splits of the backward: enough programs to fill the GPU, few partial sums."""
    blocks = triton.cdiv(b, bb)
    if INTERPRETED:
        target = 2  # still exercises the partial-sum path
    else:  # 132 = an H100 SXM, for launches recorded off the GPU (kernels._aot)
        sms = (torch.cuda.get_device_properties(device).multi_processor_count
               if device.type == "cuda" else 132)
        target = triton.cdiv(4 * sms, n)
    rows_per_split = triton.cdiv(blocks, max(1, min(blocks, target))) * bb
    return triton.cdiv(b, rows_per_split), rows_per_split


def backward(x, parent_index, parent_mask, weights, biases, activation, scale,
             g_loc, g_scale, g_u, g_lp, need_dx: bool):
    """Gradients ``(dx, dscale, dweights, dbiases)`` by recomputation (see module doc)."""
    x = x.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, (n, p, ha, hb, kl, out), meta = _network(parent_index, weights, biases, scale, activation)
    b = x.shape[0]
    bb = _block_rows("backward")
    splits, rows_per_split = _splits(b, n, bb, x.device)
    grads = [None if g is None else g.to(torch.float32).contiguous()
             for g in (g_loc, g_scale, g_u, g_lp)]
    dx_direct = torch.empty_like(x) if need_dx else x
    dxp = x.new_empty(b, n, p) if need_dx else x
    hidden = meta["NUM_HIDDEN"]
    shapes = ([(p, ha), (ha,)] if hidden >= 1 else [(1,), (1,)]) + (
        [(ha, hb), (hb,)] if hidden == 2 else [(1,), (1,)]) + [(kl, out), (out,), ()]
    partial = [x.new_zeros(splits, n, *shape) for shape in shapes]
    _backward_kernel[(n, splits)](
        x, pidx, pmask, *ptrs, *[x if g is None else g for g in grads], dx_direct, dxp, *partial,
        b, n, p, ha, hb, kl, out, rows_per_split, BB=bb, **meta,
        HAS_G_LOC=grads[0] is not None, HAS_G_SCALE=grads[1] is not None,
        HAS_G_U=grads[2] is not None, HAS_G_LP=grads[3] is not None, NEED_DX=need_dx, **_LAUNCH)
    total = [t.sum(dim=0) for t in partial]
    layers = [(total[0], total[1]), (total[2], total[3])][:hidden] + [(total[4], total[5])]
    dx = None
    if need_dx:
        flat_index = parent_index.reshape(-1).to(torch.long)
        dx = dx_direct.index_add(1, flat_index, dxp.reshape(b, n * p))
    dscale = None if meta["LOC_SCALE"] else total[6]
    return dx, dscale, [w for w, _ in layers], [g for _, g in layers]


class MechanismFunction(torch.autograd.Function):
    """Autograd wrapper: forward kernel, backward kernel (recomputes the hidden activations).

    Arguments: ``x, parent_index, parent_mask, scale, activation, *weights, *biases``.
    First-order gradients only.
    """

    @staticmethod
    def forward(ctx, x, parent_index, parent_mask, scale, activation, *params):
        num_layers = len(params) // 2
        weights, biases = params[:num_layers], params[num_layers:]
        outputs = forward(x, parent_index, parent_mask, weights, biases, activation, scale)
        ctx.save_for_backward(x, parent_index, parent_mask, scale, *params)
        ctx.activation, ctx.num_layers = activation, num_layers
        ctx.set_materialize_grads(False)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_loc, g_scale, g_u, g_lp):
        x, parent_index, parent_mask, scale, *params = ctx.saved_tensors
        num_layers = ctx.num_layers
        nothing = (None,) * (5 + 2 * num_layers)
        if all(g is None for g in (g_loc, g_scale, g_u, g_lp)):
            return nothing
        weights, biases = params[:num_layers], params[num_layers:]
        dx, dscale, dw, db = backward(x, parent_index, parent_mask, weights, biases,
                                      ctx.activation, scale, g_loc, g_scale, g_u, g_lp,
                                      need_dx=ctx.needs_input_grad[0])
        return (dx, None, None, dscale, None, *dw, *db)


def sample(u, parent_index, parent_mask, weights, biases, activation, order, scale=None,
           intervene_mask=None, intervene_value=None, variant="dag", levels=None):
    """Launch the sampling kernel(s); forward only. ``levels``: node tensors per level."""
    u = u.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, (n, p, ha, hb, kl, out), meta = _network(parent_index, weights, biases, scale, activation)
    b = u.shape[0]
    x = torch.zeros_like(u)
    intervene = intervene_mask is not None
    imask = intervene_mask.to(torch.int8).contiguous() if intervene else u
    ivalue = intervene_value.to(torch.float32).contiguous() if intervene else u
    bb = _block_rows("sample")
    args = (pidx, pmask, *ptrs, imask, ivalue, b, n, p, ha, hb, kl, out)
    if variant == "dag":
        order32 = order.to(device=u.device, dtype=torch.int32).contiguous()
        _sample_dag_kernel[(triton.cdiv(b, bb),)](
            u, x, order32, *args, BB=bb, **meta, INTERVENE=intervene, **_LAUNCH)
    else:
        for nodes in levels:
            nodes32 = nodes.to(device=u.device, dtype=torch.int32).contiguous()
            _sample_level_kernel[(triton.cdiv(b, bb), len(nodes32))](
                u, x, nodes32, *args, BB=bb, **meta, INTERVENE=intervene, **_LAUNCH)
    return x
