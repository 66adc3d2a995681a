"""Triton device helpers shared by the kernels: activations, softplus, matrix products.

Loaded through :func:`causalppl.kernels._backend.triton_module` (one copy per mode), never
imported for its own sake. Codes are plain ints so they can be ``tl.constexpr``.

Activation codes: 0 tanh, 1 relu, 2 silu (and, for the decoder's output, 3 sigmoid,
-1 identity). Precision codes: 0 exact fp32 (``ieee``), 1 tf32 (tensor cores), 2 bf16
operands, 3 tf32 emulated by truncating the mantissa to 10 bits, 4 bf16 emulated by a
round trip, 5 3xTF32 (``tf32x3``: tensor cores, about fp32 accuracy). The interpreter
runs 3 and 4 because it neither rounds tf32 nor multiplies bf16 correctly.

Example:
    >>> ACT_CODES["silu"], precision_code("bf16", interpret=True)
    (2, 4)
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["ACT_CODES", "OUT_CODES", "act", "act_grad", "mm", "precision_code", "softplus"]

ACT_CODES = {"tanh": 0, "relu": 1, "silu": 2}
OUT_CODES = {None: -1, "tanh": 0, "sigmoid": 3}


def precision_code(name: str, interpret: bool) -> int:
    """The ``mm`` precision code for a ``CAUSALPPL_KERNELS_PRECISION`` name.

    ``fp32`` is 3xTF32 on the GPU (tensor cores, about fp32 accuracy) and exact fp32
    products in the interpreter; ``ieee`` is exact fp32 products everywhere (CUDA-core FMA on
    the GPU); ``tf32`` and ``bf16`` round the operands (emulated in the interpreter).
    """
    if name == "ieee" or (name == "fp32" and interpret):
        return 0
    if name == "fp32":
        return 5
    if name == "tf32":
        return 3 if interpret else 1
    return 4 if interpret else 2


@triton.jit
def mm(a, b, PREC: tl.constexpr):
    """``a @ b`` with fp32 accumulation and operands rounded as ``PREC`` says."""
    if PREC == 0:
        c = tl.dot(a, b, input_precision="ieee")
    elif PREC == 1:
        c = tl.dot(a, b, input_precision="tf32")
    elif PREC == 2:
        c = tl.dot(a.to(tl.bfloat16), b.to(tl.bfloat16), out_dtype=tl.float32)
    elif PREC == 5:
        c = tl.dot(a, b, input_precision="tf32x3")
    elif PREC == 3:
        a32 = (a.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
        b32 = (b.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
        c = tl.dot(a32, b32, input_precision="ieee")
    else:
        a16 = a.to(tl.bfloat16).to(tl.float32)
        b16 = b.to(tl.bfloat16).to(tl.float32)
        c = tl.dot(a16, b16, input_precision="ieee")
    return c


@triton.jit
def act(z, ACT: tl.constexpr):
    """Activation by code; tanh through ``exp(-2|z|)`` so it never overflows."""
    if ACT == 0:
        t = tl.exp(-2.0 * tl.abs(z))
        r = (1.0 - t) / (1.0 + t)
        h = tl.where(z < 0, -r, r)
    elif ACT == 1:
        h = tl.maximum(z, 0.0)
    elif ACT == 2:
        h = z * tl.sigmoid(z)
    elif ACT == 3:
        h = tl.sigmoid(z)
    else:
        h = z
    return h


@triton.jit
def act_grad(z, h, ACT: tl.constexpr):
    """Derivative of the activation at pre-activation ``z`` with value ``h``."""
    if ACT == 0:
        g = 1.0 - h * h
    elif ACT == 1:
        g = tl.where(z > 0, 1.0, 0.0)
    elif ACT == 2:
        s = tl.sigmoid(z)
        g = s * (1.0 + z * (1.0 - s))
    elif ACT == 3:
        g = h * (1.0 - h)
    else:
        g = tl.full(z.shape, 1.0, tl.float32)
    return g


@triton.jit
def softplus(r):
    """``log(1 + exp(r))`` without overflow, with an accurate ``log1p`` for small terms."""
    y = tl.exp(-tl.abs(r))
    w = 1.0 + y
    # log1p(y) = log(w) * y / (w - 1) corrects the rounding of 1 + y (Goldberg's trick)
    log1p = tl.where(w == 1.0, y, tl.log(w) * y / (w - 1.0))
    return tl.maximum(r, 0.0) + log1p
