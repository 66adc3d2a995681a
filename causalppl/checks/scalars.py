"""Checks of plain arguments: counts, numbers, fractions, seeds, names, choices, models."""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..errors import CausalError

__all__ = [
    "model_arguments",
    "boolean",
    "choice",
    "finite_number",
    "fraction",
    "int_at_least",
    "mapping",
    "model",
    "names",
    "nonnegative_number",
    "open_fraction",
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


def finite_number(value, name: str) -> float:
    """A finite real number (a location, a shift).

    Example:
        >>> finite_number(-1.5, "loc")
        -1.5
        >>> finite_number(float("nan"), "loc")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: loc must be a finite number, got nan
    """
    if not _is_real(value) or not math.isfinite(value):
        raise CausalError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def fraction(value, name: str) -> float:
    """A number in ``[0, 1)`` (a share of rows, say)."""
    if not _is_real(value) or not 0 <= value < 1:
        raise CausalError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def open_fraction(value, name: str) -> float:
    """A number strictly between 0 and 1 (a test level, a held-out share).

    Example:
        >>> open_fraction(0.05, "alpha")
        0.05
        >>> open_fraction(1, "alpha")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: alpha must lie in (0, 1), got 1
    """
    if not _is_real(value) or not 0 < value < 1:
        raise CausalError(f"{name} must lie in (0, 1), got {value!r}")
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


def boolean(value, name: str) -> bool:
    """``True`` or ``False`` (numpy bools too); ``0``, ``1`` and strings are refused.

    Example:
        >>> boolean(True, "refine")
        True
        >>> boolean("no", "refine")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: refine must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise CausalError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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


def names(value, name: str) -> list[str]:
    """A list of distinct strings (node or column names).

    Example:
        >>> names(("a", "b"), "nodes")
        ['a', 'b']
        >>> names(["a", "a"], "nodes")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: nodes names 'a' more than once; names must be distinct
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise CausalError(
            f"{name} must be a list of names (strings), got {type(value).__name__}: {reprlib.repr(value)}"
        )
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise CausalError(f"{name} must hold names (strings), got {v!r}")
    seen: set[str] = set()
    for v in out:
        if v in seen:
            raise CausalError(f"{name} names {v!r} more than once; names must be distinct")
        seen.add(v)
    return out


def model(value, name: str = "model") -> Callable:
    """A callable (a Pyro program)."""
    if not callable(value):
        raise CausalError(
            f"{name} must be a Pyro program (a callable, e.g. a function or a PyroModule), "
            f"got {type(value).__name__}: {value!r}"
        )
    return value


def model_arguments(args, kwargs) -> tuple[tuple, dict]:
    """``(model_args, model_kwargs)`` a query passes to the program: a tuple (or list) and a dict.

    Example:
        >>> model_arguments([1, 2], None)
        ((1, 2), {})
    """
    if not isinstance(args, (tuple, list)):
        raise CausalError(f"model_args must be a tuple of the program's positional arguments, got {args!r}")
    return tuple(args), mapping(kwargs, "model_kwargs", keys="argument name")
