"""Input checks shared by the metrics: everything becomes a float64 numpy matrix."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import CausalError

__all__ = ["as_matrix", "as_paired_samples", "standardize"]


def as_matrix(value, name: str, *, square: bool = False) -> np.ndarray:
    """``value`` (tensor, array or nested list) as a finite float64 matrix.

    A 1-D input is read as one column (``n`` samples of one variable).
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
    if not np.all(np.isfinite(arr)):
        raise CausalError(f"{name} contains NaN or inf")
    if square and arr.shape[0] != arr.shape[1]:
        raise CausalError(f"{name} must be a square matrix, got shape {arr.shape}")
    return arr


def as_paired_samples(a, b, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two sample matrices with the same number of rows (at least 3)."""
    a, b = as_matrix(a, names[0]), as_matrix(b, names[1])
    if a.shape[0] != b.shape[0]:
        raise CausalError(
            f"{names[0]} has {a.shape[0]} samples but {names[1]} has {b.shape[0]}; "
            "rows must be paired samples"
        )
    if a.shape[0] < 3:
        raise CausalError(f"{names[0]} needs at least 3 samples, got {a.shape[0]}")
    return a, b


def standardize(a: np.ndarray) -> np.ndarray:
    """Columns centred to mean 0 and scaled to sd 1; constant columns become 0."""
    centred = a - a.mean(0)
    sd = centred.std(0)
    constant = sd <= 1e-12 * (1 + np.abs(a).max(0))
    return np.divide(centred, sd, out=np.zeros_like(centred), where=~constant)
