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

The checks live in :mod:`.scalars` (plain arguments) and :mod:`.arrays` (matrices, tensors);
both are re-exported here, so every entry point calls ``checks.<name>``.
"""

from .arrays import adjacency, float_tensor, int_tuple, matrix, paired_samples, unit_grid
from .scalars import (
    boolean,
    choice,
    finite_number,
    fraction,
    int_at_least,
    mapping,
    model,
    model_arguments,
    names,
    nonnegative_number,
    open_fraction,
    positive_int,
    positive_number,
    probability,
    seed,
)

__all__ = [
    "adjacency",
    "boolean",
    "choice",
    "finite_number",
    "float_tensor",
    "fraction",
    "int_at_least",
    "int_tuple",
    "mapping",
    "matrix",
    "model",
    "model_arguments",
    "names",
    "nonnegative_number",
    "open_fraction",
    "paired_samples",
    "positive_int",
    "positive_number",
    "probability",
    "seed",
    "unit_grid",
]
