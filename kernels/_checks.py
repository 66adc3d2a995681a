"""Argument checks shared by the kernel entry points: bad input names the argument."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from causalppl.errors import CausalError

from .activations import ACTIVATIONS as _TABLE

__all__ = ["ACTIVATIONS", "check_activation", "check_float", "check_layers"]

ACTIVATIONS = tuple(_TABLE)
_FLOATS = (torch.float32, torch.float64)


def check_activation(
    activation: object, name: str = "activation", allow_none: bool = False, allowed: Sequence[str] = ACTIVATIONS
) -> str | None:
    """Return ``activation`` if it names a supported activation, else raise naming ``name``.

    Example:
        >>> check_activation("tanh")
        'tanh'
    """
    if activation is None and allow_none:
        return None
    if not isinstance(activation, str) or activation not in allowed:
        choices = ", ".join(repr(a) for a in allowed) + (", None" if allow_none else "")
        raise CausalError(f"{name}={activation!r} is not one of {choices}")
    return activation


def check_float(
    t: object, name: str, ndim: int | None = None, shape: Sequence[int | None] | None = None
) -> torch.Tensor:
    """Check that ``t`` is a float32/float64 tensor of the given rank and (partial) shape."""
    if not isinstance(t, torch.Tensor):
        raise CausalError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in _FLOATS:
        raise CausalError(f"{name} must be float32 or float64, got {t.dtype}")
    _check_shape(t, name, ndim, shape)
    return t


def _check_shape(t: torch.Tensor, name: str, ndim: int | None, shape: Sequence[int | None] | None) -> None:
    if ndim is not None and t.dim() != ndim:
        raise CausalError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if shape is not None and any(s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "[" + ", ".join("?" if s is None else str(s) for s in shape) + "]"
        raise CausalError(f"{name} must have shape {want}, got {tuple(t.shape)}")


def check_layers(
    weights: object, biases: object, first_in: int, lead: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> list[int]:
    """Check a chain of layers ``weights[l]: [*lead, in_l, out_l]``, ``biases[l]: [*lead, out_l]``.

    Returns the widths ``[in_0, out_0, out_1, ...]``.
    """
    if not isinstance(weights, (list, tuple)) or len(weights) == 0:
        raise CausalError("weights must be a non-empty list of tensors")
    if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
        got = len(biases) if isinstance(biases, (list, tuple)) else type(biases).__name__
        raise CausalError(f"biases must be a list with one tensor per layer ({len(weights)}), got {got}")
    widths = [first_in]
    for i, (w, b) in enumerate(zip(weights, biases)):
        check_float(w, f"weights[{i}]", ndim=len(lead) + 2, shape=(*lead, widths[-1], None))
        out = w.shape[-1]
        check_float(b, f"biases[{i}]", ndim=len(lead) + 1, shape=(*lead, out))
        for t, n in ((w, f"weights[{i}]"), (b, f"biases[{i}]")):
            if t.dtype != dtype:
                raise CausalError(f"{n} has dtype {t.dtype}, expected {dtype} like the input")
            if t.device != device:
                raise CausalError(f"{n} is on {t.device}, expected {device} like the input")
        widths.append(out)
    return widths
