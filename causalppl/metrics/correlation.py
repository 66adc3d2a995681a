"""Correlation-based recovery metrics: MCC, weak MCC, Amari index, R².

"MCC" here is the **mean correlation coefficient** of identifiability research
(Hyvärinen & Morioka 2016; Khemakhem et al. 2020): the mean absolute correlation between
true and estimated components after the best one-to-one matching. It is *not* the
Matthews correlation coefficient of classification that sklearn and torchmetrics call MCC.
"""

from __future__ import annotations

import numpy as np

from .. import checks
from ..errors import CausalError
from ._arrays import standardize

__all__ = ["amari_index", "correlation_matrix", "matched_correlations", "mcc", "r2", "weak_mcc"]

_METHODS = ("pearson", "spearman")


def correlation_matrix(z_true, z_hat, method: str = "pearson") -> np.ndarray:
    """Cross-correlations ``C[i, j] = corr(z_true[:, i], z_hat[:, j])``.

    Constant columns correlate 0 with everything.

    Example:
        >>> import numpy as np
        >>> z = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
        >>> correlation_matrix(z, z[:, ::-1]).round(2)
        array([[0.5, 1. ],
               [1. , 0.5]])
    """
    a, b = checks.paired_samples(z_true, z_hat, ("z_true", "z_hat"))
    checks.choice(method, "method", _METHODS)
    if method == "spearman":
        from scipy.stats import rankdata  # scipy loads on first use, not with the library

        a, b = rankdata(a, axis=0), rankdata(b, axis=0)
    return standardize(a).T @ standardize(b) / a.shape[0]


def matched_correlations(z_true, z_hat, method: str = "pearson") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best one-to-one matching of true to estimated components (Hungarian algorithm).

    Returns:
        ``(rows, cols, corr)``: true component ``rows[k]`` is paired with estimated
        component ``cols[k]`` and ``corr[k]`` is their signed correlation; ``rows`` is
        increasing and has ``min(d_true, d_hat)`` entries.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(100, 3))
        >>> rows, cols, corr = matched_correlations(z, -z[:, [1, 2, 0]])
        >>> cols.tolist(), corr.round(6).tolist()
        ([2, 0, 1], [-1.0, -1.0, -1.0])
    """
    from scipy.optimize import linear_sum_assignment

    c = correlation_matrix(z_true, z_hat, method)
    rows, cols = linear_sum_assignment(-np.abs(c))
    return rows, cols, c[rows, cols]


def mcc(z_true, z_hat, method: str = "pearson") -> float:
    """Mean correlation coefficient between true and estimated latents, in ``[0, 1]``.

    The absolute correlations of the pairs chosen by the best one-to-one matching
    (Hungarian algorithm on ``|corr|``), averaged over the ``min(d_true, d_hat)`` pairs.
    Not the Matthews correlation coefficient (see the module docstring).

    Args:
        z_true: ``[n, d_true]`` true components (tensor, array or list).
        z_hat: ``[n, d_hat]`` estimated components, rows paired with ``z_true``.
        method: ``"pearson"`` (identifiability up to permutation and affine maps per
            component) or ``"spearman"`` (up to permutation and monotone maps).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(500, 3))
        >>> f"{mcc(z, -2.0 * z[:, [2, 0, 1]] + 1.0):.9f}"
        '1.000000000'
        >>> f"{mcc(z, np.exp(z), method='spearman'):.9f}"
        '1.000000000'
    """
    _, _, corr = matched_correlations(z_true, z_hat, method)
    return float(np.clip(np.abs(corr).mean(), 0.0, 1.0))


def weak_mcc(z_true, z_hat) -> float:
    """Mean canonical correlation: MCC after the best linear re-mixing (CCA), in ``[0, 1]``.

    Measures identifiability up to an invertible linear map (Khemakhem et al. 2020's weak
    MCC). Canonical variates are paired by construction, so the matching is the identity;
    the score is the mean of the ``min(d_true, d_hat)`` canonical correlations, computed
    in-sample (it is optimistic when ``n`` is not much larger than the dimensions).

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(400, 2))
        >>> f"{weak_mcc(z, z @ np.array([[1.0, 2.0], [0.5, -1.0]])):.9f}"
        '1.000000000'
    """
    a, b = checks.paired_samples(z_true, z_hat, ("z_true", "z_hat"))
    qa, qb = _orthonormal_columns(a), _orthonormal_columns(b)
    k = min(a.shape[1], b.shape[1])
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        return 0.0
    sv = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.clip(np.pad(sv, (0, max(0, k - sv.size)))[:k].mean(), 0.0, 1.0))


def _orthonormal_columns(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the centred column space (rank-revealing, via SVD)."""
    u, s, _ = np.linalg.svd(a - a.mean(0), full_matrices=False)
    return u[:, s > 1e-10 * max(s.max(initial=0.0), 1e-300)]


def amari_index(matrix, mixing=None) -> float:
    """Amari distance of ``P = matrix @ mixing`` from a scaled permutation, in ``[0, 1]``.

    0 exactly when ``P`` has one non-zero per row and column (the unmixing inverts the
    mixing up to permutation and scaling); the normalisation by ``2 d (d - 1)`` puts the
    worst case at 1.

    Args:
        matrix: an estimated unmixing ``W`` (``[d, d]``), or ``P`` itself.
        mixing: the true mixing ``A``; when given the index of ``W @ A`` is returned.

    Example:
        >>> import numpy as np
        >>> a = np.array([[2.0, 1.0], [0.5, 1.0]])
        >>> f"{amari_index(np.linalg.inv(a)[[1, 0]] * 3.0, a):.9f}"
        '0.000000000'
        >>> amari_index(np.ones((2, 2)))
        1.0
    """
    p = checks.matrix(matrix, "matrix", square=mixing is None)
    if mixing is not None:
        p = p @ checks.matrix(mixing, "mixing")
        if p.shape[0] != p.shape[1]:
            raise CausalError(f"matrix @ mixing must be square, got shape {p.shape}")
    p = np.abs(p)
    d = p.shape[0]
    if d == 1:
        return 0.0
    if np.any(p.max(1) == 0) or np.any(p.max(0) == 0):
        raise CausalError("matrix @ mixing has an all-zero row or column; it is not invertible")
    rows = (p.sum(1) / p.max(1) - 1.0).sum()
    cols = (p.sum(0) / p.max(0) - 1.0).sum()
    return float((rows + cols) / (2.0 * d * (d - 1)))


def r2(z_true, z_hat, kind: str = "affine", *, degree: int = 3, reduce: bool = True):
    """Coefficient of determination of the true latents regressed on the estimated ones.

    ``R²_i = 1 - SSE_i / Σ_n (z_true[n, i] - mean_i)²`` for each true component ``i``:

    * ``"affine"``: ``z_true[:, i] ~ z_hat @ w + b`` (identifiability up to affine maps);
    * ``"linear"``: the same without intercept;
    * ``"elementwise"``: ``z_true[:, i]`` from the one estimated component matched to it
      (Hungarian on ``|Spearman corr|``), through a polynomial of ``degree`` in that
      standardised component (up to permutation and smooth invertible maps per component).

    Args:
        reduce: return the mean over true components (else the per-component array).

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(1).uniform(-1, 1, size=(300, 2))
        >>> f"{r2(z, z @ np.array([[1.0, 1.0], [0.0, 1.0]]) + 4.0):.9f}"
        '1.000000000'
        >>> f"{r2(z[:, ::-1] ** 3 - z[:, ::-1], z, kind='elementwise'):.9f}"
        '1.000000000'
    """
    a, b = checks.paired_samples(z_true, z_hat, ("z_true", "z_hat"))
    checks.choice(kind, "kind", ("affine", "linear", "elementwise"))
    degree = checks.positive_int(degree, "degree")
    reduce = checks.boolean(reduce, "reduce")
    n = a.shape[0]
    if kind == "affine":
        designs = [np.column_stack([b, np.ones(n)])] * a.shape[1]
    elif kind == "linear":
        designs = [b] * a.shape[1]
    else:
        if b.shape[1] < a.shape[1]:
            raise CausalError(f"elementwise R² needs d_hat >= d_true, got {b.shape[1]} < {a.shape[1]}")
        _, match, _ = matched_correlations(a, b, "spearman")
        sb = standardize(b)
        designs = [np.vander(sb[:, j], degree + 1) for j in match]
    scores = np.empty(a.shape[1])
    for i, x in enumerate(designs):
        coef, *_ = np.linalg.lstsq(x, a[:, i], rcond=None)
        sse = np.sum((a[:, i] - x @ coef) ** 2)
        sst = np.sum((a[:, i] - a[:, i].mean()) ** 2)
        scores[i] = 1.0 - sse / sst if sst > 0 else 0.0
    scores = np.minimum(scores, 1.0)
    return float(scores.mean()) if reduce else scores
