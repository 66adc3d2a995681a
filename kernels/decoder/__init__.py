"""Fused MLP decoder (latent ``z`` -> pixels), the entry point of the generative models.

Dispatches on :func:`causalppl.kernels.backend` like the mechanism kernels: ``torch`` runs
:mod:`~causalppl.kernels.decoder.reference`; ``interpret`` and ``triton`` (CUDA tensors)
run the kernels (one fused linear + activation launch per layer, see
:mod:`~causalppl.kernels.decoder.triton`) with fp32 accumulation and return the input's
dtype. Any number and width of layers.

Example:
    >>> import torch
    >>> z = torch.tensor([[1.0, -1.0]])
    >>> w, b = [torch.eye(2), torch.ones(2, 1)], [torch.zeros(2), torch.zeros(1)]
    >>> decoder_forward(z, w, b, "relu", out_activation="sigmoid").tolist()  # sigmoid(1)
    [[0.7310585786300049]]
"""

from __future__ import annotations

import torch

from .. import _backend
from .._checks import check_activation, check_float, check_layers
from . import reference
from .reference import OUT_ACTIVATIONS

__all__ = ["decoder_forward"]


def decoder_forward(z, weights, biases, activation, out_activation=None):
    """Run an MLP decoder: ``Linear + activation`` chain, ``out_activation`` at the end.

    Args:
        z: ``[B, D]`` latents.
        weights, biases: per layer ``[in_l, out_l]`` and ``[out_l]``, ``in_0 = D``.
        activation: ``"tanh"``, ``"relu"`` or ``"silu"``, after every layer but the last.
        out_activation: ``None``, ``"sigmoid"`` or ``"tanh"`` after the last layer.

    Returns:
        ``[B, out_last]``; differentiable in ``z``, weights and biases.
    """
    check_float(z, "z", ndim=2)
    check_layers(weights, biases, z.shape[1], (), z.dtype, z.device)
    check_activation(activation)
    check_activation(out_activation, "out_activation", allow_none=True, allowed=OUT_ACTIVATIONS)
    name = _backend.backend()
    if name == "torch" or (name == "triton" and not z.is_cuda):
        return reference.decoder_forward(z, weights, biases, activation, out_activation)
    module = _backend.triton_module("decoder/triton.py", interpret=name == "interpret")
    y = module.DecoderFunction.apply(
        z.to(torch.float32),
        activation,
        out_activation,
        *[w.to(torch.float32) for w in weights],
        *[b.to(torch.float32) for b in biases],
    )
    return y.to(z.dtype)
