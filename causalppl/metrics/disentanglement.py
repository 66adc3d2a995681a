"""Disentanglement scores for continuous factors: DCI, MIG and SAP.

All three compare a learned code ``[n, d_code]`` with ground-truth factors
``[n, d_factor]``. The original definitions use classifiers or tree ensembles; without a
machine-learning dependency these use the documented linear / histogram variants below,
which agree with the originals on linear (and monotone, for MIG) relations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks
from ..errors import CausalError
from ._arrays import standardize

__all__ = ["DCI", "dci", "mig", "sap"]


@dataclass(frozen=True)
class DCI:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Attributes:
        disentanglement: ``Σ_i ρ_i (1 - H_K(P_i·))``: each code predicts one factor.
        completeness: ``mean_j (1 - H_D(P̃_·j))``: each factor is predicted by one code.
        informativeness: mean held-out R² of the factors predicted from the code.
        importance: ``[d_code, d_factor]`` matrix ``R`` of absolute standardized
            ridge coefficients.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(200, 2))
        >>> dci(z, z).importance.shape
        (2, 2)
    """

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray


def dci(factors, code, *, ridge: float = 1e-3, test_fraction: float = 0.5) -> DCI:
    """DCI scores with linear importances (a documented variant of Eastwood & Williams).

    Each standardized factor is regressed on the standardized code by ridge regression
    (penalty ``ridge * n``) on the first ``1 - test_fraction`` of the rows; the importance
    of code ``i`` for factor ``j`` is ``|β_ij|`` (the original uses lasso or gradient-boosted
    trees), and informativeness is the mean R² on the remaining rows (rows should be in
    random order).

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(400, 3))
        >>> s = dci(z, 3.0 * z[:, [1, 2, 0]])
        >>> f"{s.disentanglement:.3f} {s.completeness:.3f} {s.informativeness:.3f}"
        '0.999 0.999 1.000'
    """
    v, c = checks.paired_samples(factors, code, ("factors", "code"))
    ridge = checks.nonnegative_number(ridge, "ridge")
    test_fraction = checks.open_fraction(test_fraction, "test_fraction")
    n_train = int(round(v.shape[0] * (1.0 - test_fraction)))
    if n_train < 3 or v.shape[0] - n_train < 3:
        raise CausalError(f"factors has too few rows ({v.shape[0]}) for a train/test split")
    vs, cs = standardize(v), standardize(c)
    xtr, xte, ytr, yte = cs[:n_train], cs[n_train:], vs[:n_train], vs[n_train:]
    gram = xtr.T @ xtr + ridge * n_train * np.eye(c.shape[1])
    beta = np.linalg.solve(gram, xtr.T @ ytr)  # [d_code, d_factor]
    resid = yte - xte @ beta
    sst = ((yte - yte.mean(0)) ** 2).sum(0)
    r2_test = 1.0 - (resid**2).sum(0) / np.maximum(sst, 1e-300)
    informativeness = float(np.mean(np.where(sst > 0, r2_test, 0.0)))
    r = np.abs(beta)
    total = r.sum()
    if total == 0:
        return DCI(0.0, 0.0, informativeness, r)
    d_code, d_factor = r.shape
    p_code = _normalise_rows(r)
    disent = 1.0 - _entropy(p_code, d_factor)
    rho = r.sum(1) / total
    p_factor = _normalise_rows(r.T)
    complete = 1.0 - _entropy(p_factor, d_code)
    return DCI(float(rho @ disent), float(complete.mean()), informativeness, r)


def _normalise_rows(r: np.ndarray) -> np.ndarray:
    s = r.sum(1, keepdims=True)
    return np.divide(r, s, out=np.full_like(r, 1.0 / r.shape[1]), where=s > 0)


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Row entropies in log-``base`` units; with one outcome the entropy is 0."""
    if base < 2:
        return np.zeros(p.shape[0])
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(1) / np.log(base)


def _discretize(a: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width histogram bin index of every entry, per column (as disentanglement_lib)."""
    out = np.empty(a.shape, dtype=np.int64)
    for j in range(a.shape[1]):
        edges = np.histogram_bin_edges(a[:, j], bins=bins)
        out[:, j] = np.digitize(a[:, j], edges[1:-1])
    return out


def _mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    """Mutual information (nats) of two discrete label vectors, from their joint counts."""
    joint = np.zeros((x.max() + 1, y.max() + 1))
    np.add.at(joint, (x, y), 1.0)
    joint /= joint.sum()
    px, py = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (px @ py)[nz])).sum())


def mig(factors, code, *, bins: int = 20) -> float:
    """Mutual information gap (Chen et al. 2018), with histogram-discretized variables.

    For each factor ``v_j``: (largest − second largest) of ``I(c_i; v_j)`` over codes,
    divided by ``H(v_j)``; averaged over factors. Factors and codes are both binned into
    ``bins`` equal-width bins, so the score is invariant to monotone maps only up to the
    binning. Needs at least two code dimensions.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).uniform(size=(2000, 2))
        >>> mig(z, z[:, ::-1]) > 0.9, mig(z, np.column_stack([z.sum(1), z.sum(1)])) < 0.1
        (True, True)
    """
    v, c = checks.paired_samples(factors, code, ("factors", "code"))
    bins = checks.int_at_least(bins, "bins", 2)
    if c.shape[1] < 2:
        raise CausalError(f"mig needs a code with at least 2 dimensions, got {c.shape[1]}")
    vd, cd = _discretize(v, bins), _discretize(c, bins)
    gaps = []
    for j in range(v.shape[1]):
        entropy = _mutual_information(vd[:, j], vd[:, j])
        if entropy <= 0:
            raise CausalError(f"factor {j} of factors is constant; its MIG is undefined")
        mi = np.sort([_mutual_information(cd[:, i], vd[:, j]) for i in range(c.shape[1])])[::-1]
        gaps.append((mi[0] - mi[1]) / entropy)
    return float(np.mean(gaps))


def sap(factors, code) -> float:
    """Separated attribute predictability (Kumar et al. 2018) for continuous factors.

    ``S_ij`` is the R² of a one-variable linear regression of factor ``j`` on code ``i``
    (the squared correlation); SAP is the mean over factors of the gap between the two
    largest ``S_ij``. Needs at least two code dimensions.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(1000, 2))
        >>> f"{sap(z, 2.0 * z):.2f} {sap(z, np.column_stack([z.sum(1)] * 2)):.6f}"
        '1.00 0.000000'
    """
    v, c = checks.paired_samples(factors, code, ("factors", "code"))
    if c.shape[1] < 2:
        raise CausalError(f"sap needs a code with at least 2 dimensions, got {c.shape[1]}")
    s = (standardize(c).T @ standardize(v) / v.shape[0]) ** 2  # [d_code, d_factor]
    top = np.sort(s, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))
