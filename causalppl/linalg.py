"""Random matrices with controlled conditioning (shared by fitters and test strategies)."""

from __future__ import annotations

import math

import torch

from . import checks
from .errors import CausalError

__all__ = ["random_orthogonal", "random_well_conditioned"]


def random_orthogonal(dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A Haar-distributed ``[dim, dim]`` orthogonal matrix (QR of a Gaussian, signs fixed).

    Example:
        >>> q = random_orthogonal(3, torch.Generator().manual_seed(0))
        >>> bool(torch.allclose(q @ q.T, torch.eye(3, dtype=q.dtype)))
        True
    """
    dim = checks.positive_int(dim, "dim")
    a = torch.randn(dim, dim, generator=generator, dtype=torch.get_default_dtype())
    q, r = torch.linalg.qr(a)
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    return q * signs


def random_well_conditioned(
    rows: int, cols: int, max_condition: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``U diag(s) V^T`` with singular values log-uniform in ``[1, max_condition]``.

    Example:
        >>> a = random_well_conditioned(4, 3, 5.0, torch.Generator().manual_seed(0))
        >>> f"{float(torch.linalg.cond(a)):.6f}"
        '5.000000'
    """
    rows, cols = checks.positive_int(rows, "rows"), checks.positive_int(cols, "cols")
    if checks.positive_number(max_condition, "max_condition") < 1:
        raise CausalError(f"max_condition must be >= 1, got {max_condition}")
    k = min(rows, cols)
    u = random_orthogonal(rows, generator)[:, :k]
    v = random_orthogonal(cols, generator)[:, :k]
    log_kappa = math.log(max_condition)
    log_s = torch.rand(k, generator=generator, dtype=u.dtype) * log_kappa
    if k > 1:  # pin the extremes so the bound is attained, not only respected
        log_s[0], log_s[-1] = 0.0, log_kappa
    return (u * torch.exp(log_s)) @ v.T
