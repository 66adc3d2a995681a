"""``causalppl bench cpu_paths``, part 3: the convolutional networks in row blocks on a CPU.

:class:`~causalppl.nn.ConvDecoder` and :class:`~causalppl.nn.ConvEncoder` run their layers
over blocks of ``row_block`` images on a CPU (:func:`causalppl.nn._blocks.in_row_blocks`).
Here each, at the sizes of ``causalppl bench morpho`` (28x28, latent 16, context 12,
channels (32, 64), head (256,)), is timed with its blocks, in one call (``row_block=None``),
and as ``torch.compile`` of the one call, forward without autograd (a query) and forward +
backward (a fit step), at a fit's minibatch (128 images) and at query sizes (1,000 to
4,096 images: a 1,000-unit counterfactual decodes 2,000 images, one per world).
"""

from __future__ import annotations

import copy
import inspect

import torch

from ..nn import ConvDecoder, ConvEncoder
from ._harness import measure_side_by_side

__all__ = ["HEADER", "conv_rows"]

HEADER = ["network", "images", "mode", "one call ms", "compiled ms", "blocked ms", "vs one call", "vs compiled"]
HEADER += ["row_block"]


def _networks(quick: bool):
    channels, hidden = ((4, 8), (16,)) if quick else ((32, 64), (256,))
    shape, latent, context = (1, 28, 28), 16, 12
    decoder = ConvDecoder(latent, shape, channels=channels[::-1], context_dim=context, row_block=None)
    encoder = ConvEncoder(shape, latent, channels=channels, hidden=hidden, context_dim=context, row_block=None)
    return {
        "ConvDecoder": (decoder, lambda n: (torch.randn(n, latent), torch.randn(n, context))),
        "ConvEncoder": (encoder, lambda n: (torch.rand(n, *shape), torch.randn(n, context))),
    }


def _modes(inputs):
    def forward(fn):
        def run():
            with torch.no_grad():
                fn(*inputs)

        return run

    def backward(fn):
        def run():
            out = fn(*inputs)
            sum(o.sum() for o in (out if isinstance(out, tuple) else (out,))).backward()

        return run

    return {"forward": forward, "forward+backward": backward}


def conv_rows(quick: bool, repeat: int) -> list[list]:
    """One row per network, size and mode; ratios above 1: the blocks are faster."""
    torch.manual_seed(0)
    rows = []
    for name, (net, make_inputs) in _networks(quick).items():
        blocked = copy.deepcopy(net)  # the same weights, in blocks of the package's default size
        blocked.row_block = inspect.signature(type(net)).parameters["row_block"].default
        compiled = torch.compile(net)
        for n in (8, 32) if quick else (128, 1000, 2000, 4096):
            inputs = make_inputs(n)
            for mode, wrap in _modes(inputs).items():
                fns = {"one call": wrap(net), "compiled": wrap(compiled), "blocked": wrap(blocked)}
                t = measure_side_by_side(fns, repeat=repeat, warmup=2)
                ms = [t[k] * 1e3 for k in ("one call", "compiled", "blocked")]
                rows.append([name, n, mode, *ms, ms[0] / ms[2], ms[1] / ms[2], blocked.row_block])
    return rows
