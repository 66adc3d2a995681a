"""Checks of array arguments: sample matrices, adjacency matrices, tensors, image grids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from ..errors import CausalError
from .scalars import _is_int, int_at_least

__all__ = ["adjacency", "float_tensor", "int_tuple", "matrix", "paired_samples", "unit_grid"]


def matrix(value, name: str, *, square: bool = False, min_rows: int = 1, min_cols: int = 1) -> np.ndarray:
    """``value`` (tensor, array or nested list) as a finite float64 matrix ``[rows, cols]``.

    A 1-D input is read as one column (``n`` samples of one variable).

    Example:
        >>> matrix([1.0, 2.0], "x").shape
        (2, 1)
        >>> matrix(np.zeros((3, 0)), "z_hat")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: z_hat must have at least 1 column(s), got shape (3, 0)
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        raw = np.asarray(value)
        arr = None if np.iscomplexobj(raw) else raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise CausalError(f"{name} must be a numeric matrix, got {type(value).__name__}") from exc
    if arr is None:
        raise CausalError(f"{name} must hold real numbers, got complex values")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise CausalError(f"{name} must be a matrix [samples, dims], got shape {arr.shape}")
    if arr.shape[1] < min_cols:
        raise CausalError(f"{name} must have at least {min_cols} column(s), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise CausalError(f"{name} needs at least {min_rows} row(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CausalError(f"{name} contains NaN or inf")
    if square and arr.shape[0] != arr.shape[1]:
        raise CausalError(f"{name} must be a square matrix, got shape {arr.shape}")
    return arr


def paired_samples(a, b, names: tuple[str, str], *, min_rows: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two sample matrices with the same number of rows (at least ``min_rows``)."""
    a, b = matrix(a, names[0]), matrix(b, names[1])
    if a.shape[0] != b.shape[0]:
        raise CausalError(
            f"{names[0]} has {a.shape[0]} samples but {names[1]} has {b.shape[0]}; rows must be paired samples"
        )
    if a.shape[0] < min_rows:
        raise CausalError(f"{names[0]} needs at least {min_rows} samples, got {a.shape[0]}")
    return a, b


def adjacency(value, name: str) -> np.ndarray:
    """A square 0/1 matrix (``A[i, j] = 1`` for an edge ``i -> j``) as an ``int64`` array.

    NaN, inf and any entry other than 0 and 1 are refused (a weight is not an edge); an
    empty ``[0, 0]`` matrix is a graph without nodes.

    Example:
        >>> adjacency([[0, 1], [0, 0]], "adjacency").tolist()
        [[0, 1], [0, 0]]
        >>> adjacency([[0, 0.5], [0, 0]], "adjacency")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: adjacency must hold only 0 and 1, got 0.5 at [0, 1]
    """
    a = matrix(value, name, square=True, min_rows=0, min_cols=0)
    off = np.argwhere((a != 0) & (a != 1))
    if off.size:
        i, j = (int(k) for k in off[0])
        raise CausalError(f"{name} must hold only 0 and 1, got {float(a[i, j])} at [{i}, {j}]")
    return a.astype(np.int64)


def int_tuple(value, name: str, *, length: int | None = None, minimum: int = 1) -> tuple[int, ...]:
    """A sequence of ints ``>= minimum`` (exactly ``length`` of them when given), as a tuple.

    Example:
        >>> int_tuple([1, 28, 28], "image_shape", length=3)
        (1, 28, 28)
        >>> int_tuple((64, 0), "hidden")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: hidden must be a sequence of ints >= 1, got (64, 0)
    """
    what = "a sequence of ints" if length is None else f"a sequence of {length} ints"
    if isinstance(value, (str, bytes, Mapping, torch.Tensor)) or not isinstance(value, Iterable):
        raise CausalError(f"{name} must be {what} >= {minimum}, got {value!r}")
    out = tuple(value)
    if (length is not None and len(out) != length) or not all(_is_int(v) and v >= minimum for v in out):
        raise CausalError(f"{name} must be {what} >= {minimum}, got {value!r}")
    return tuple(int(v) for v in out)


def float_tensor(
    value, name: str, *, trailing: Sequence[int] = (), min_dims: int = 0, finite: bool = False
) -> torch.Tensor:
    """A floating-point tensor ``[..., *trailing]`` with at least ``min_dims`` dims, returned as is.

    With ``finite``, NaN and inf entries are refused too.

    Example:
        >>> float_tensor(torch.zeros(4, 1, 28, 28), "image", trailing=(1, 28, 28)).shape
        torch.Size([4, 1, 28, 28])
        >>> float_tensor(torch.zeros(4, 28, 28), "image", trailing=(1, 28, 28))
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: image must be a float tensor [..., 1, 28, 28], got shape (4, 28, 28)
    """
    trailing = tuple(int(d) for d in trailing)
    want = "[" + ", ".join(["...", *(str(d) for d in trailing)]) + "]"
    if min_dims > len(trailing):
        want += f" with at least {min_dims} dims"
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        got = f"dtype {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
        raise CausalError(f"{name} must be a float tensor {want}, got {got}")
    ndim = value.dim()
    if ndim < max(min_dims, len(trailing)) or tuple(value.shape[ndim - len(trailing) :]) != trailing:
        raise CausalError(f"{name} must be a float tensor {want}, got shape {tuple(value.shape)}")
    if finite and not bool(torch.isfinite(value).all()):
        raise CausalError(f"{name} contains NaN or inf")
    return value


def unit_grid(value: torch.Tensor, name: str, levels: int, *, tol: float = 0.0) -> torch.Tensor:
    """A float tensor whose entries are levels ``k / (levels - 1)`` of ``[0, 1]``, returned as is.

    ``tol`` is how far (in units of the level spacing) an entry may sit from its level;
    ``levels=2`` asks for 0 or 1.

    Example:
        >>> unit_grid(torch.tensor([0.0, 1.0]), "value", 2).tolist()
        [0.0, 1.0]
        >>> unit_grid(torch.tensor([0.0, 0.5]), "value", 2)
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: value must be 0 or 1 everywhere, got 0.5
    """
    value = float_tensor(value, name)
    steps = int_at_least(levels, "levels", 2) - 1
    scaled = value * steps
    off = (value < 0) | (value > 1) | ((scaled - scaled.round()).abs() > tol) | value.isnan()
    if bool(off.any()):
        where = "0 or 1" if steps == 1 else f"in [0, 1] on the grid k/{steps} (k = 0, ..., {steps})"
        raise CausalError(f"{name} must be {where} everywhere, got {value[off][0].item()!r}")
    return value
