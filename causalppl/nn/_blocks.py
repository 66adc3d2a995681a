"""Pieces the image networks share: Pyro names, conditioning inputs and MLP chains.

The MLP chains keep their weights in the layout of :func:`causalppl.kernels.decoder_forward`
(``[in, out]`` per layer), so every forward runs through that one entry point, which picks
the torch reference or the fused Triton kernel (:func:`causalppl.kernels.backend`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from pyro.nn import PyroModule

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.kernels import decoder_forward, scale_transform
from causalppl.kernels.activations import ACTIVATIONS, OUT_ACTIVATIONS

__all__ = [
    "CONV_ROW_BLOCK",
    "Dense",
    "activation_name",
    "check_image_shape",
    "in_row_blocks",
    "inputs",
    "loc_and_scale",
    "row_block_of",
    "unique_name",
]

_COUNTER = itertools.count()
CONV_ROW_BLOCK = 256  # images per call of the convolutional networks on a CPU (in_row_blocks)


def unique_name(cls: type) -> str:
    """A fresh Pyro name, so two stand-alone networks never share param-store entries."""
    return f"{cls.__name__}_{next(_COUNTER)}"


def check_image_shape(value) -> tuple[int, int, int]:
    """``(C, H, W)`` as positive ints."""
    return checks.int_tuple(value, "image_shape", length=3)


def activation_name(value, name: str = "activation", out: bool = False) -> str | None:
    """A hidden activation of the table, or (``out``) ``None`` or an output activation."""
    if out and value is None:
        return None
    return checks.choice(value, name, OUT_ACTIVATIONS if out else ACTIVATIONS)


def _context(context, width: int, like: torch.Tensor) -> torch.Tensor | None:
    """``context`` as ``[..., width]``: a tensor, or a list of ``width`` per-parent values."""
    if width == 0:
        if context is None or (isinstance(context, (list, tuple)) and not context):
            return None
        raise CausalError("context was given, but the network was built with context_dim=0")
    if context is None:
        raise CausalError(f"context is missing: the network was built with context_dim={width}")
    if isinstance(context, (list, tuple)):
        if len(context) != width:
            raise CausalError(f"context must hold {width} values (context_dim), got a list of {len(context)}")
        values = [torch.as_tensor(c, dtype=like.dtype, device=like.device) for c in context]
        try:
            shape = torch.broadcast_shapes(*(v.shape for v in values))
        except RuntimeError as e:
            raise CausalError(f"the values in context do not broadcast: {[tuple(v.shape) for v in values]}") from e
        context = torch.stack([v.expand(shape) for v in values], -1)
    return checks.float_tensor(context, "context", trailing=(width,))


def inputs(x: torch.Tensor, context, width: int) -> torch.Tensor:
    """``x [..., F]`` with the context ``[..., width]`` appended (leading dims broadcast)."""
    ctx = _context(context, width, x)
    if ctx is None:
        return x
    try:
        lead = torch.broadcast_shapes(x.shape[:-1], ctx.shape[:-1])
    except RuntimeError as e:
        raise CausalError(
            f"context of shape {tuple(ctx.shape)} does not broadcast with the network's input of shape {tuple(x.shape)}"
        ) from e
    return torch.cat([x.expand(lead + x.shape[-1:]), ctx.to(x.dtype).expand(lead + ctx.shape[-1:])], -1)


def loc_and_scale(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``[..., 2L]`` raw outputs into a Normal's ``loc`` and ``scale`` (``softplus + 1e-4``)."""
    loc, raw = out.chunk(2, -1)
    return loc, scale_transform(raw)


class Dense(PyroModule):
    """A chain of linear layers, ``activation`` between them and ``out_activation`` after the last.

    Layer ``l`` holds ``weight_l [in_l, out_l]`` and ``bias_l [out_l]`` (``torch.nn.Linear``'s
    initialisation); inputs ``[..., in_0]`` with any leading dims.
    """

    def __init__(self, widths: Sequence[int], activation: str, out_activation: str | None = None):
        super().__init__()
        self.widths = tuple(widths)
        self.activation, self.out_activation = activation, out_activation
        self.num_layers = len(self.widths) - 1
        for layer, (fan_in, fan_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            bound = 1.0 / math.sqrt(max(fan_in, 1))
            setattr(self, f"weight_{layer}", torch.nn.Parameter(torch.empty(fan_in, fan_out).uniform_(-bound, bound)))
            setattr(self, f"bias_{layer}", torch.nn.Parameter(torch.empty(fan_out).uniform_(-bound, bound)))

    def weights(self) -> list[torch.Tensor]:
        """``[in_l, out_l]`` per layer, the kernel's layout."""
        return [getattr(self, f"weight_{layer}") for layer in range(self.num_layers)]

    def biases(self) -> list[torch.Tensor]:
        """``[out_l]`` per layer."""
        return [getattr(self, f"bias_{layer}") for layer in range(self.num_layers)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        lead = h.shape[:-1]
        flat = h.reshape(-1, h.shape[-1])
        out = decoder_forward(flat, self.weights(), self.biases(), self.activation, self.out_activation)
        return out.reshape(lead + out.shape[-1:])


def row_block_of(value) -> int | None:
    """A convolutional network's ``row_block``: a positive int, or ``None`` for one call."""
    return None if value is None else checks.positive_int(value, "row_block")


def in_row_blocks(layers, x: torch.Tensor, block: int | None) -> torch.Tensor:
    """``layers(x)`` over the rows of ``x``, in blocks of ``block`` rows on a CPU.

    Rows are separate images, so the answer is the same; the time is not: on a CPU, oneDNN's
    convolutions and transposed convolutions over a batch of a few thousand small images run
    at up to half the speed per image of blocks of 256 (their working set leaves the cache).
    ``causalppl bench cpu_paths`` (its conv part, alone with ``--only conv``;
    ``benchmarks/results/cpu_paths.md``), at the Morpho-digits sizes, against the one call
    and against ``torch.compile`` of it, over two runs: the decoder 1.4-1.9x faster from
    1,000 to 4,096 images (a 1,000-unit counterfactual decodes 2,000), the encoder 1.6-2.0x
    at 4,096 (a fit's held-out bound encodes 4,000) and 1.04-1.9x at 1,000-2,000; a fit's
    minibatch of 128 is one block. A GPU takes the batch whole.
    """
    if block is None or x.device.type != "cpu" or x.shape[0] <= block:
        return layers(x)
    return torch.cat([layers(rows) for rows in x.split(block)])
