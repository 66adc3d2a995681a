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
def _pick(t, c, M_PAD: tl.constexpr):
    """Column ``c`` of a register tile ``[BB, M_PAD]``."""
    return tl.sum(tl.where(tl.arange(0, M_PAD)[None, :] == c, t, 0.0), axis=1)


@triton.jit
def _parent(x, rows, row_ok, pidx, pmask, j, N, P, p):
    """Parent slot ``p`` of node ``j`` for a row block, times its mask (padding: 0, unread)."""
    idx = tl.load(pidx + j * P + p)
    pm = tl.load(pmask + j * P + p)
    live = tl.where(row_ok, pm, 0.0) != 0.0  # (the interpreter cannot `&` a scalar bool)
    return tl.load(x + rows * N + idx, mask=live, other=0.0) * pm


@triton.jit
def _first_layer(x, rows, row_ok, pidx, pmask, w0, b0, j, N, P, M0, BB: tl.constexpr, M0_PAD: tl.constexpr):
    """``parents @ w0[j] + b0[j]`` as rank-1 updates over the few parent slots: no padding of
    P to a tensor-core tile, and no ``[BB, P]`` tile at all."""
    m = tl.arange(0, M0_PAD)
    z0 = tl.zeros((BB, M0_PAD), tl.float32) + _vector(b0, j, M0, M0_PAD)[None, :]
    for p in tl.range(0, P):
        xcol = _parent(x, rows, row_ok, pidx, pmask, j, N, P, p)
        z0 += xcol[:, None] * tl.load(w0 + (j * P + p) * M0 + m, mask=m < M0, other=0.0)[None, :]
    return z0


@triton.jit
def _network(
    x,
    rows,
    row_ok,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    j,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    BB: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
):
    """Node ``j``'s MLP on a row block: pre-activations, activations, ``loc``, raw scale."""
    z0 = _first_layer(x, rows, row_ok, pidx, pmask, w0, b0, j, N, P, M0, BB, M0_PAD)
    if NUM_HIDDEN == 0:  # the first layer is the last: its columns are loc (and raw scale)
        h0 = z0
        z1 = z0
        h1 = z0
        loc = _pick(z0, 0, M0_PAD)
        raw = _pick(z0, 1, M0_PAD)
    else:
        h0 = _act(z0, ACT)
        if NUM_HIDDEN == 2:
            z1 = _mm(h0, _matrix(w1, j, M0, M1, M0_PAD, M1_PAD), PREC)
            z1 += _vector(b1, j, M1, M1_PAD)[None, :]
            h1 = _act(z1, ACT)
            hl = h1
        else:
            z1 = z0
            h1 = h0
            hl = h0
        loc = tl.sum(hl * _column(wl, j, KL, O, 0, KL_PAD)[None, :], axis=1)
        loc += tl.load(bl + j * O)
        raw = tl.sum(hl * _column(wl, j, KL, O, O - 1, KL_PAD)[None, :], axis=1)
        raw += tl.load(bl + j * O + O - 1)
    return z0, h0, z1, h1, loc, raw


@triton.jit
def _scale(raw, scale, j, LOC_SCALE: tl.constexpr):
    if LOC_SCALE:
        s = _softplus(raw) + _FLOOR
    else:
        s = tl.load(scale + j) + tl.zeros_like(raw)
    return s


@triton.jit
def _forward_kernel(
    x,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    scale,
    loc_out,
    scale_out,
    u_out,
    lp_out,
    B,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    BB: tl.constexpr,
    P_PAD: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
):
    j = tl.program_id(1)
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    _, _, _, _, loc, raw = _network(
        x,
        rows,
        row_ok,
        pidx,
        pmask,
        w0,
        b0,
        w1,
        b1,
        wl,
        bl,
        j,
        N,
        P,
        M0,
        M1,
        KL,
        O,
        BB,
        M0_PAD,
        M1_PAD,
        KL_PAD,
        NUM_HIDDEN,
        LOC_SCALE,
        ACT,
        PREC,
    )
    s = _scale(raw, scale, j, LOC_SCALE)
    off = rows * N + j
    u = (tl.load(x + off, mask=row_ok, other=0.0) - loc) / s
    tl.store(loc_out + off, loc, mask=row_ok)
    tl.store(scale_out + off, s, mask=row_ok)
    tl.store(u_out + off, u, mask=row_ok)
    tl.store(lp_out + off, -0.5 * u * u - tl.log(s) - _HALF_LOG_2PI, mask=row_ok)


@triton.jit
def _backward_kernel(
    x,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    scale,
    g_loc,
    g_scale,
    g_u,
    g_lp,
    dx_direct,
    dxp,
    gw0,
    gb0,
    gw1,
    gb1,
    gwl,
    gbl,
    gscale,
    B,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    rows_per_split,
    BB: tl.constexpr,
    P_PAD: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
    HAS_G_LOC: tl.constexpr,
    HAS_G_SCALE: tl.constexpr,
    HAS_G_U: tl.constexpr,
    HAS_G_LP: tl.constexpr,
    NEED_DX: tl.constexpr,
):
    j = tl.program_id(0)
    split = tl.program_id(1)
    start = split * rows_per_split
    stop = tl.minimum(start + rows_per_split, B)
    m0 = tl.arange(0, M0_PAD)
    slots = tl.arange(0, P_PAD)
    if NUM_HIDDEN == 2:
        w1_j = _matrix(w1, j, M0, M1, M0_PAD, M1_PAD)
    if NUM_HIDDEN >= 1:
        wl_loc = _column(wl, j, KL, O, 0, KL_PAD)
        wl_raw = _column(wl, j, KL, O, O - 1, KL_PAD)
    # fp32 accumulators of this program's share of the weight gradients
    acc_w0 = tl.zeros((P_PAD, M0_PAD), tl.float32)
    acc_b0 = tl.zeros((M0_PAD,), tl.float32)
    acc_w1 = tl.zeros((M0_PAD, M1_PAD), tl.float32)
    acc_b1 = tl.zeros((M1_PAD,), tl.float32)
    acc_wl_loc = tl.zeros((KL_PAD,), tl.float32)
    acc_wl_raw = tl.zeros((KL_PAD,), tl.float32)
    acc_bl_loc = tl.zeros((BB,), tl.float32)
    acc_bl_raw = tl.zeros((BB,), tl.float32)
    acc_scale = tl.zeros((BB,), tl.float32)
    for r0 in tl.range(start, stop, BB):
        rows, row_ok = _rows(r0, stop, BB)
        off = rows * N + j
        z0, h0, z1, h1, loc, raw = _network(
            x,
            rows,
            row_ok,
            pidx,
            pmask,
            w0,
            b0,
            w1,
            b1,
            wl,
            bl,
            j,
            N,
            P,
            M0,
            M1,
            KL,
            O,
            BB,
            M0_PAD,
            M1_PAD,
            KL_PAD,
            NUM_HIDDEN,
            LOC_SCALE,
            ACT,
            PREC,
        )
        s = _scale(raw, scale, j, LOC_SCALE)
        u = (tl.load(x + off, mask=row_ok, other=0.0) - loc) / s
        # g_total: d/du of everything downstream of u, log_prob = sum(-u^2/2 - log s) included
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
        if LOC_SCALE:
            draw = ds * tl.sigmoid(raw)
        else:
            draw = tl.zeros_like(ds)
            acc_scale += ds
        if NUM_HIDDEN == 0:
            dz0 = tl.where(m0[None, :] == 0, dloc[:, None], 0.0) + tl.where(m0[None, :] == 1, draw[:, None], 0.0)
        else:
            if NUM_HIDDEN == 2:
                hl = h1
            else:
                hl = h0
            acc_bl_loc += dloc
            acc_wl_loc += tl.sum(hl * dloc[:, None], axis=0)
            acc_bl_raw += draw
            acc_wl_raw += tl.sum(hl * draw[:, None], axis=0)
            dhl = dloc[:, None] * wl_loc[None, :] + draw[:, None] * wl_raw[None, :]
            if NUM_HIDDEN == 2:
                dz1 = dhl * _act_grad(z1, h1, ACT)
                acc_w1 += _mm(tl.trans(h0), dz1, PREC)
                acc_b1 += tl.sum(dz1, axis=0)
                dh0 = _mm(dz1, tl.trans(w1_j), PREC)
            else:
                dh0 = dhl
            dz0 = dh0 * _act_grad(z0, h0, ACT)
        acc_b0 += tl.sum(dz0, axis=0)
        for p in tl.range(0, P):
            xcol = _parent(x, rows, row_ok, pidx, pmask, j, N, P, p)
            acc_w0 += tl.where(slots[:, None] == p, tl.sum(xcol[:, None] * dz0, axis=0)[None, :], 0.0)
            if NEED_DX:
                w0_row = tl.load(w0 + (j * P + p) * M0 + m0, mask=m0 < M0, other=0.0)
                dcol = tl.sum(dz0 * w0_row[None, :], axis=1) * tl.load(pmask + j * P + p)
                tl.store(dxp + off * P + p, dcol, mask=row_ok)
    # this split's partial sums: [S, N, ...] buffers, summed by the launcher
    node = split * N + j
    ok = (slots[:, None] < P) & (m0[None, :] < M0)
    tl.store(gw0 + node * P * M0 + slots[:, None] * M0 + m0[None, :], acc_w0, mask=ok)
    tl.store(gb0 + node * M0 + m0, acc_b0, mask=m0 < M0)
    if NUM_HIDDEN == 2:
        m1 = tl.arange(0, M1_PAD)
        ok = (m0[:, None] < M0) & (m1[None, :] < M1)
        tl.store(gw1 + node * M0 * M1 + m0[:, None] * M1 + m1[None, :], acc_w1, mask=ok)
        tl.store(gb1 + node * M1 + m1, acc_b1, mask=m1 < M1)
    if NUM_HIDDEN >= 1:
        kl = tl.arange(0, KL_PAD)
        tl.store(gwl + node * KL * O + kl * O, acc_wl_loc, mask=kl < KL)
        tl.store(gbl + node * O, tl.sum(acc_bl_loc, axis=0))
        if LOC_SCALE:
            tl.store(gwl + node * KL * O + kl * O + 1, acc_wl_raw, mask=kl < KL)
            tl.store(gbl + node * O + 1, tl.sum(acc_bl_raw, axis=0))
    if not LOC_SCALE:
        tl.store(gscale + node, tl.sum(acc_scale, axis=0))


@triton.jit
def _sample_node(
    j,
    rows,
    row_ok,
    u,
    x,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    scale,
    imask,
    ivalue,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    BB: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
    INTERVENE: tl.constexpr,
):
    """``x[:, j] = loc_j(parents) + scale_j * u[:, j]``, or the intervention value."""
    _, _, _, _, loc, raw = _network(
        x,
        rows,
        row_ok,
        pidx,
        pmask,
        w0,
        b0,
        w1,
        b1,
        wl,
        bl,
        j,
        N,
        P,
        M0,
        M1,
        KL,
        O,
        BB,
        M0_PAD,
        M1_PAD,
        KL_PAD,
        NUM_HIDDEN,
        LOC_SCALE,
        ACT,
        PREC,
    )
    off = rows * N + j
    value = loc + _scale(raw, scale, j, LOC_SCALE) * tl.load(u + off, mask=row_ok, other=0.0)
    if INTERVENE:
        hit = tl.load(imask + off, mask=row_ok, other=0) != 0
        value = tl.where(hit, tl.load(ivalue + off, mask=row_ok, other=0.0), value)
    tl.store(x + off, value, mask=row_ok)


@triton.jit
def _sample_dag_kernel(
    u,
    x,
    order,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    scale,
    imask,
    ivalue,
    B,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    BB: tl.constexpr,
    P_PAD: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
    INTERVENE: tl.constexpr,
):
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    for t in tl.range(0, N):
        j = tl.load(order + t)
        _sample_node(
            j,
            rows,
            row_ok,
            u,
            x,
            pidx,
            pmask,
            w0,
            b0,
            w1,
            b1,
            wl,
            bl,
            scale,
            imask,
            ivalue,
            N,
            P,
            M0,
            M1,
            KL,
            O,
            BB,
            M0_PAD,
            M1_PAD,
            KL_PAD,
            NUM_HIDDEN,
            LOC_SCALE,
            ACT,
            PREC,
            INTERVENE,
        )
        # the next node may read this one's column, written by other threads of the program
        tl.debug_barrier()


@triton.jit
def _sample_level_kernel(
    u,
    x,
    nodes,
    pidx,
    pmask,
    w0,
    b0,
    w1,
    b1,
    wl,
    bl,
    scale,
    imask,
    ivalue,
    B,
    N,
    P,
    M0,
    M1,
    KL,
    O,
    BB: tl.constexpr,
    P_PAD: tl.constexpr,
    M0_PAD: tl.constexpr,
    M1_PAD: tl.constexpr,
    KL_PAD: tl.constexpr,
    NUM_HIDDEN: tl.constexpr,
    LOC_SCALE: tl.constexpr,
    ACT: tl.constexpr,
    PREC: tl.constexpr,
    INTERVENE: tl.constexpr,
):
    rows, row_ok = _rows(tl.program_id(0) * BB, B, BB)
    j = tl.load(nodes + tl.program_id(1))
    _sample_node(
        j,
        rows,
        row_ok,
        u,
        x,
        pidx,
        pmask,
        w0,
        b0,
        w1,
        b1,
        wl,
        bl,
        scale,
        imask,
        ivalue,
        N,
        P,
        M0,
        M1,
        KL,
        O,
        BB,
        M0_PAD,
        M1_PAD,
        KL_PAD,
        NUM_HIDDEN,
        LOC_SCALE,
        ACT,
        PREC,
        INTERVENE,
    )


# ----------------------------------------------------------------------------- host side


# Rows per program and warps by (hidden layers, widest hidden layer) and kernel, picked from
# sweeps of sm_90 compiles (kernels.aot, NOTES.md): the fewest registers per thread at about
# 4-8 rows per warp, without spills. Wider networks are outside kernel_supports().
_CONFIGS = {
    (1, 64): {"forward": (32, 4), "backward": (32, 8), "sample": (32, 4)},
    (1, 128): {"forward": (32, 8), "backward": (32, 8), "sample": (32, 8)},
    (1, 256): {"forward": (16, 4), "backward": (16, 8), "sample": (16, 4)},
    (2, 64): {"forward": (32, 8), "backward": (16, 8), "sample": (16, 8)},
}


def _launch_options(kind: str, m0: int, m1: int, hidden: int) -> tuple[int, dict]:
    """Rows per program and launch options for one kernel and network shape."""
    if INTERPRETED:
        return 64, {}  # few programs: the interpreter pays per program and per op
    width = max(m0, m1 if hidden == 2 else 0)
    bound = next(b for b in (64, 128, 256) if width <= b)
    rows, warps = _CONFIGS[(max(hidden, 1), bound)][kind]
    return rows, {"num_warps": warps, "enable_fp_fusion": True}


def _dot_pad(n: int) -> int:
    # tl.dot needs every dimension >= 16 on the GPU; the interpreter runs the same shapes
    return max(16, triton.next_power_of_2(int(n)))


def _network_args(parent_index, weights, biases, scale, activation: str):
    """Kernel pointers ``w0, b0, w1, b1, wl, bl, scale`` (unused ones repeat a valid one),
    sizes ``N, P, M0, M1, KL, O`` and compile-time constants."""
    ws = [w.to(torch.float32).contiguous() for w in weights]
    bs = [b.to(torch.float32).contiguous() for b in biases]
    hidden = len(ws) - 1
    n, p = parent_index.shape
    m0 = ws[0].shape[-1]
    m1 = ws[1].shape[-1] if hidden == 2 else 1
    kl, out = ws[-1].shape[-2], ws[-1].shape[-1]
    w1, b1 = (ws[1], bs[1]) if hidden == 2 else (ws[0], bs[0])
    ptrs = (ws[0], bs[0], w1, b1, ws[-1], bs[-1], ws[-1] if scale is None else scale.to(torch.float32).contiguous())
    pad = _dot_pad if hidden == 2 else triton.next_power_of_2
    meta = dict(
        P_PAD=triton.next_power_of_2(p),
        M0_PAD=pad(m0),
        M1_PAD=pad(m1),
        KL_PAD=triton.next_power_of_2(kl),
        NUM_HIDDEN=hidden,
        LOC_SCALE=out == 2,
        ACT=_dev.ACT_CODES[activation],
        PREC=_dev.precision_code(_backend.precision(), INTERPRETED),
    )
    if hidden == 2:
        meta["KL_PAD"] = meta["M1_PAD"]
    return ptrs, (n, p, m0, m1, kl, out), meta


def _graph(parent_index, parent_mask):
    return parent_index.to(torch.int32).contiguous(), parent_mask.to(torch.float32).contiguous()


def forward(x, parent_index, parent_mask, weights, biases, activation, scale=None):
    """Launch the forward kernel on fp32 copies; returns ``(loc, scale, u, log_prob)``."""
    x = x.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, dims, meta = _network_args(parent_index, weights, biases, scale, activation)
    b, n = x.shape
    loc, s, u, lp = (torch.empty_like(x) for _ in range(4))
    bb, options = _launch_options("forward", dims[2], dims[3], meta["NUM_HIDDEN"])
    _forward_kernel[(triton.cdiv(b, bb), n)](x, pidx, pmask, *ptrs, loc, s, u, lp, b, *dims, BB=bb, **meta, **options)
    return loc, s, u, lp.sum(dim=1)


def _splits(b: int, n: int, bb: int, device: torch.device) -> tuple[int, int]:
    """Row splits of the backward: enough programs to fill the GPU, few partial sums."""
    blocks = triton.cdiv(b, bb)
    if INTERPRETED:
        target = 2  # still exercises the partial-sum path
    else:  # 132 = an H100 SXM, for launches recorded off the GPU (kernels.aot)
        sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 132
        target = triton.cdiv(4 * sms, n)
    rows_per_split = triton.cdiv(blocks, max(1, min(blocks, target))) * bb
    return triton.cdiv(b, rows_per_split), rows_per_split


def backward(
    x, parent_index, parent_mask, weights, biases, activation, scale, g_loc, g_scale, g_u, g_lp, need_dx: bool
):
    """Gradients ``(dx, dscale, dweights, dbiases)`` by recomputation (see module doc)."""
    x = x.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, dims, meta = _network_args(parent_index, weights, biases, scale, activation)
    n, p, m0, m1, kl, out = dims
    b = x.shape[0]
    hidden = meta["NUM_HIDDEN"]
    bb, options = _launch_options("backward", m0, m1, hidden)
    splits, rows_per_split = _splits(b, n, bb, x.device)
    grads = [None if g is None else g.to(torch.float32).contiguous() for g in (g_loc, g_scale, g_u, g_lp)]
    dx_direct = torch.empty_like(x) if need_dx else x
    dxp = x.new_empty(b, n, p) if need_dx else x
    shapes = [(p, m0), (m0,), (m0, m1), (m1,), (kl, out), (out,), ()]
    partial = [x.new_zeros(splits, n, *shape) for shape in shapes]
    _backward_kernel[(n, splits)](
        x,
        pidx,
        pmask,
        *ptrs,
        *[x if g is None else g for g in grads],
        dx_direct,
        dxp,
        *partial,
        b,
        *dims,
        rows_per_split,
        BB=bb,
        **meta,
        HAS_G_LOC=grads[0] is not None,
        HAS_G_SCALE=grads[1] is not None,
        HAS_G_U=grads[2] is not None,
        HAS_G_LP=grads[3] is not None,
        NEED_DX=need_dx,
        **options,
    )
    total = [t.sum(dim=0) for t in partial]
    layers = [(total[0], total[1])]
    if hidden == 2:
        layers.append((total[2], total[3]))
    if hidden >= 1:
        layers.append((total[4], total[5]))
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
        if all(g is None for g in (g_loc, g_scale, g_u, g_lp)):
            return (None,) * (5 + 2 * num_layers)
        weights, biases = params[:num_layers], params[num_layers:]
        dx, dscale, dw, db = backward(
            x,
            parent_index,
            parent_mask,
            weights,
            biases,
            ctx.activation,
            scale,
            g_loc,
            g_scale,
            g_u,
            g_lp,
            need_dx=ctx.needs_input_grad[0],
        )
        return (dx, None, None, dscale, None, *dw, *db)


def sample(
    u,
    parent_index,
    parent_mask,
    weights,
    biases,
    activation,
    order,
    scale=None,
    intervene_mask=None,
    intervene_value=None,
    variant="dag",
    levels=None,
):
    """Launch the sampling kernel(s); forward only. ``levels``: node tensors per level."""
    u = u.to(torch.float32).contiguous()
    pidx, pmask = _graph(parent_index, parent_mask)
    ptrs, dims, meta = _network_args(parent_index, weights, biases, scale, activation)
    b = u.shape[0]
    x = torch.zeros_like(u)
    intervene = intervene_mask is not None
    imask = intervene_mask.to(torch.int8).contiguous() if intervene else u
    ivalue = intervene_value.to(torch.float32).contiguous() if intervene else u
    bb, options = _launch_options("sample", dims[2], dims[3], meta["NUM_HIDDEN"])
    args = (pidx, pmask, *ptrs, imask, ivalue, b, *dims)
    if variant == "dag":
        order32 = order.to(device=u.device, dtype=torch.int32).contiguous()
        _sample_dag_kernel[(triton.cdiv(b, bb),)](u, x, order32, *args, BB=bb, **meta, INTERVENE=intervene, **options)
    else:
        for nodes in levels:
            nodes32 = nodes.to(device=u.device, dtype=torch.int32).contiguous()
            _sample_level_kernel[(triton.cdiv(b, bb), len(nodes32))](
                u, x, nodes32, *args, BB=bb, **meta, INTERVENE=intervene, **options
            )
    return x
