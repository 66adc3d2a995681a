"""Plain-PyTorch reference of the MLP decoder (latent ``z [B, D]`` -> pixels ``[B, P_out]``).

Layer ``l`` computes ``h @ weights[l] + biases[l]`` (``weights[l]: [in_l, out_l]``), the
hidden activation follows every layer but the last, and ``out_activation`` (``None``,
``"sigmoid"`` or ``"tanh"``) follows the last.
"""

from __future__ import annotations

import torch

from ..activations import OUT_ACTIVATIONS as _OUT
from ..activations import activate

__all__ = ["OUT_ACTIVATIONS", "decoder_forward"]

OUT_ACTIVATIONS = tuple(_OUT)


def decoder_forward(z, weights, biases, activation, out_activation=None):
    """Reference of :func:`causalppl.kernels.decoder_forward` (arguments checked there).

    Example:
        >>> z = torch.tensor([[1.0, -1.0]])
        >>> w, b = [torch.eye(2), torch.ones(2, 1)], [torch.zeros(2), torch.zeros(1)]
        >>> decoder_forward(z, w, b, "relu").tolist()  # relu(z) summed
        [[1.0]]
    """
    h = z
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = torch.addmm(b, h, w)
        if i < last:
            h = activate(h, activation)
    if out_activation == "sigmoid":
        return torch.sigmoid(h)
    if out_activation == "tanh":
        return torch.tanh(h)
    return h
