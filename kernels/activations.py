"""The activation table: one home for the activations every network in causalppl may use.

The Triton kernels implement exactly these names; the reference paths, the mechanism banks
and the image decoders look them up here.

Example:
    >>> import torch
    >>> from causalppl.kernels.activations import activate
    >>> activate(torch.tensor([-1.0, 2.0]), "relu").tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ACTIVATIONS", "OUT_ACTIVATIONS", "activate", "activation_fn"]

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "silu": F.silu}
"""Hidden-layer activations by name."""

OUT_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}
"""Activations a decoder may put after its last layer."""


def activation_fn(name: str, table: dict = ACTIVATIONS):
    """The function called ``name`` in ``table``; a :class:`~causalppl.errors.CausalError` otherwise."""
    from causalppl.errors import CausalError

    if not isinstance(name, str) or name not in table:
        raise CausalError(f"activation must be one of {sorted(table)}, got {name!r}")
    return table[name]


def activate(h: torch.Tensor, activation: str) -> torch.Tensor:
    """Apply the hidden activation called ``activation``."""
    return ACTIVATIONS[activation](h)
