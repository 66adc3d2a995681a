"""The one argument checker: every public entry point validates its arguments here.

Each function returns the checked (and, where it says so, converted) value, or raises
:class:`~causalppl.errors.CausalError` naming the argument and what it got. Booleans are
never accepted as numbers (``num_samples=True`` is a mistake, not ``1``).

Example:
    >>> from causalppl import checks
    >>> checks.positive_int(5, "num_samples")
    5
    >>> checks.positive_int(10.5, "num_samples")
    Traceback (most recent call last):
    ...
    causalppl.errors.CausalError: num_samples must be a positive int, got 10.5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch

from .errors import CausalError

__all__ = [
    "choice",
    "fraction",
    "int_at_least",
    "mapping",
    "matrix",
    "model",
    "nonnegative_number",
    "paired_samples",
    "positive_int",
    "positive_number",
    "probability",
    "seed",
]


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def int_at_least(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` ``>= minimum``.

    Example:
        >>> int_at_least(0, "steps", 0)
        0
    """
    if not _is_int(value) or value < minimum:
        kind = "a positive int" if minimum == 1 else "a non-negative int" if minimum == 0 else f"an int >= {minimum}"
        raise CausalError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an ``int`` ``>= 1``."""
    return int_at_least(value, name, 1)


def positive_number(value, name: str, *, allow_inf: bool = False) -> float:
    """A finite (or, with ``allow_inf``, infinite) real number ``> 0``.

    Example:
        >>> positive_number(-1, "clip_norm")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: clip_norm must be a positive number, got -1
    """
    if not _is_real(value) or math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        raise CausalError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def nonnegative_number(value, name: str) -> float:
    """A finite real number ``>= 0``."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise CausalError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def fraction(value, name: str) -> float:
    """A number in ``[0, 1)`` (a share of rows, say)."""
    if not _is_real(value) or not 0 <= value < 1:
        raise CausalError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def probability(value, name: str) -> float:
    """A number in ``[0, 1]``."""
    if not _is_real(value) or not 0 <= value <= 1:
        raise CausalError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def choice(value, name: str, options: Iterable[str]):
    """One of ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise CausalError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def seed(value, name: str = "seed") -> int | None:
    """``None`` (fresh randomness from torch's global generator) or an int in ``[0, 2**64)``."""
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value < 2**64:
        raise CausalError(f"{name} must be None or a non-negative int, got {value!r}")
    return int(value)


def mapping(value, name: str, *, keys: str = "site name") -> dict:
    """A ``dict`` copy of a mapping whose keys are strings (``None`` gives ``{}``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CausalError(f"{name} must be a dict keyed by {keys}, got {type(value).__name__}: {value!r}")
    for k in value:
        if not isinstance(k, str):
            raise CausalError(f"{name} must be keyed by {keys} (strings), got the key {k!r}")
    return dict(value)


def model(value, name: str = "model") -> Callable:
    """A callable (a Pyro program)."""
    if not callable(value):
        raise CausalError(
            f"{name} must be a Pyro program (a callable, e.g. a function or a PyroModule), "
            f"got {type(value).__name__}: {value!r}"
        )
    return value


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
        value = value.detach().cpu().double().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CausalError(f"{name} must be a numeric matrix, got {type(value).__name__}") from exc
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
