"""Bytes and operations a kernel call must spend, and the time a GPU needs for them.

Counts are of the work that cannot be avoided (each input read once, each output written
once, each multiply-add of the networks run once), so ``roofline_seconds`` is a lower
bound. Three limits: memory traffic, fp32 arithmetic (CUDA-core FMA or tensor cores), and
the special-function unit (``exp``, reciprocal: 2 per tanh/SiLU/sigmoid element here),
which bounds small-MLP kernels on an H100 long before the FMA units do.

Example:
    >>> c = mechanism_counts(batch=1000, parents=[0, 1, 2], hidden=(8,), outputs=1,
    ...                      activation="relu")
    >>> c["flops"]  # 2 * B * (P_j * H + H * O) summed over nodes: 2*1000*(0+8+16 + 3*8)
    96000
    >>> roofline_seconds(c, H100_SXM)["limit"]
    'memory'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["H100_PCIE", "H100_SXM", "H200", "GPU", "decoder_counts", "gpu_spec", "mechanism_counts", "roofline_seconds"]

_SPECIAL_PER_ELEMENT = {"tanh": 2, "silu": 2, "relu": 0, "sigmoid": 2, None: 0}


@dataclass(frozen=True)
class GPU:
    """Peak rates (dense, no sparsity) from the vendor's data sheets."""

    name: str
    bytes_per_s: float
    fp32_flops: float  # CUDA-core FMA
    tf32_flops: float  # tensor cores, dense
    special_per_s: float  # MUFU: 16 per clock per SM

    def matmul_flops(self, precision: str) -> float:
        """Peak rate of the kernels' matrix products (3xTF32 takes three tf32 products)."""
        return {
            "ieee": self.fp32_flops,
            "fp32": self.tf32_flops / 3,
            "tf32": self.tf32_flops,
            "bf16": 2 * self.tf32_flops,
        }[precision]


H100_SXM = GPU("H100 SXM", 3.35e12, 67e12, 495e12, 16 * 132 * 1.83e9)
H100_PCIE = GPU("H100 PCIe", 2.0e12, 51e12, 378e12, 16 * 114 * 1.62e9)
H200 = GPU("H200", 4.8e12, 67e12, 495e12, 16 * 132 * 1.83e9)


def gpu_spec(device_name: str) -> GPU:
    """The peak rates of a device named like ``torch.cuda.get_device_name()`` (H100 SXM
    when unknown)."""
    name = device_name.upper()
    if "H200" in name:
        return H200
    if "H100" in name and "PCIE" in name:
        return H100_PCIE
    return H100_SXM


def mechanism_counts(
    batch: int,
    parents: list[int],
    hidden: tuple[int, ...],
    outputs: int,
    activation: str,
    backward: bool = False,
    param_grads_only: bool = True,
):
    """Unavoidable work of :func:`causalppl.kernels.mechanism_forward` (fp32).

    ``parents[j]`` is node ``j``'s real parent count. Forward: read ``x``, write ``loc``,
    ``scale``, ``u`` and ``log_prob``, read the weights once. With ``backward`` (a training
    step on ``log_prob``): also read ``x`` and the row gradients again, write the weight
    gradients (and ``dx`` unless ``param_grads_only``); the products are run three times
    (forward, input gradient, weight gradient) and the activations twice.
    """
    n = len(parents)
    widths = list(hidden) + [outputs]
    macs_per_row = sum(p * widths[0] for p in parents)
    macs_per_row += n * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    params = sum(parents) * widths[0] + n * sum(a * b for a, b in zip(widths[:-1], widths[1:])) + n * sum(widths)
    flops = 2 * batch * macs_per_row
    special = batch * n * sum(hidden) * _SPECIAL_PER_ELEMENT[activation]
    special += batch * n * (2 if outputs == 2 else 0) + batch * n  # softplus, log(scale)
    moved = 4 * (batch * n * 4 + batch + params)
    if backward:
        flops *= 3
        special *= 2
        moved += 4 * (batch * n + batch + params + (0 if param_grads_only else batch * n))
    return {"bytes": moved, "flops": flops, "special": special}


def decoder_counts(
    batch: int, widths: tuple[int, ...], activation: str, out_activation: str | None, backward: bool = False
):
    """Unavoidable work of :func:`causalppl.kernels.decoder_forward` (fp32): read ``z`` and
    the weights, write ``y``; with ``backward`` also read ``dy`` and ``y``, write ``dz`` and
    the weight gradients, and run the products three times."""
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    params = macs + sum(widths[1:])
    hidden = sum(widths[1:-1])
    flops = 2 * batch * macs
    special = batch * (hidden * _SPECIAL_PER_ELEMENT[activation] + widths[-1] * _SPECIAL_PER_ELEMENT[out_activation])
    moved = 4 * (batch * (widths[0] + widths[-1]) + params)
    if backward:
        flops *= 3
        moved += 4 * (batch * (2 * widths[-1] + widths[0]) + params)
    return {"bytes": moved, "flops": flops, "special": special}


def roofline_seconds(counts: dict, gpu: GPU, precision: str = "ieee") -> dict:
    """Time each limit needs, the binding one (``limit``) and its time (``seconds``).

    ``precision`` names the unit doing the products: ``ieee`` = CUDA cores (the mechanism
    kernels' rank-1 updates and reductions), ``fp32`` = 3xTF32 tensor cores, etc.
    """
    times = {
        "memory": counts["bytes"] / gpu.bytes_per_s,
        "arithmetic": counts["flops"] / gpu.matmul_flops(precision),
        "special functions": counts["special"] / gpu.special_per_s,
    }
    limit = max(times, key=times.get)
    return {**times, "limit": limit, "seconds": times[limit]}
