"""Array helpers shared inside the metrics package (input checks live in :mod:`causalppl.checks`)."""

from __future__ import annotations

import numpy as np

__all__ = ["standardize"]


def standardize(a: np.ndarray) -> np.ndarray:
    """Columns centred to mean 0 and scaled to sd 1; constant columns become 0."""
    centred = a - a.mean(0)
    sd = centred.std(0)
    constant = sd <= 1e-12 * (1 + np.abs(a).max(0))
    return np.divide(centred, sd, out=np.zeros_like(centred), where=~constant)
