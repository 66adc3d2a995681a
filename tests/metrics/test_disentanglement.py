"""DCI, MIG and SAP on codes whose answer is known."""

import numpy as np
import pytest

from causalppl.errors import CausalError
from causalppl.metrics import dci, mig, sap


def _factors(n=2000, d=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, d))


def test_dci_axis_aligned_code_is_disentangled_and_complete():
    v = _factors()
    s = dci(v, 2.0 * v[:, [2, 0, 1]] + 1.0)
    assert s.disentanglement > 0.99 and s.completeness > 0.99 and s.informativeness > 0.999
    assert s.importance.shape == (3, 3)
    assert np.array_equal(s.importance.argmax(1), [2, 0, 1])


def test_dci_rotated_code_is_informative_but_entangled():
    v = _factors(d=2)
    code = v @ np.array([[1.0, 1.0], [1.0, -1.0]])  # 45°: each code holds both factors equally
    s = dci(v, code)
    assert s.informativeness > 0.999
    # Every importance is 1/2 (up to ridge shrinkage): entropy 1 bit of 1 bit, so D = C = 0.
    assert s.disentanglement < 0.01 and s.completeness < 0.01


def test_dci_hand_computed_entropies():
    """Codes c0 = v0, c1 = (v0 + v1)/√2 for exactly white factors: importances (standardized
    coefficients) R = [[1, 1], [0, √2]] (rows: codes), so by hand
    D = ρ1 · 1 = √2/(2+√2) and C = (1 + (1 - H2(1/(1+√2), √2/(1+√2)))) / 2."""
    rng = np.random.default_rng(5)
    v = rng.normal(size=(4000, 2))
    v = v - v.mean(0)
    evals, evecs = np.linalg.eigh(v.T @ v / len(v))
    v = v @ evecs / np.sqrt(evals)  # sample mean 0, covariance exactly I (ddof 0)
    code = np.column_stack([v[:, 0], (v[:, 0] + v[:, 1]) / np.sqrt(2)])
    s = dci(v, code, ridge=1e-12, test_fraction=0.5)
    r2 = np.sqrt(2)
    assert s.importance == pytest.approx(np.array([[1.0, 1.0], [0.0, r2]]), abs=0.05)
    # Check the formulas on the importances actually used:
    p = s.importance / s.importance.sum(1, keepdims=True)
    h = -np.nansum(p * np.log2(np.where(p > 0, p, 1)), 1)
    rho = s.importance.sum(1) / s.importance.sum()
    assert s.disentanglement == pytest.approx(float(rho @ (1 - h)), abs=1e-12)
    assert s.disentanglement == pytest.approx(r2 / (2 + r2), abs=0.03)
    q = np.array([1, r2]) / (1 + r2)
    assert s.completeness == pytest.approx((1 + 1 + (q * np.log2(q)).sum()) / 2, abs=0.03)


def test_mig_and_sap_known_values():
    v = _factors()
    assert mig(v, v[:, [1, 2, 0]]) > 0.9
    assert sap(v, v[:, [1, 2, 0]]) > 0.99
    same = np.column_stack([v.sum(1)] * 3)  # identical codes: no gap anywhere
    assert mig(v, same) == pytest.approx(0.0, abs=1e-12)
    assert sap(v, same) == pytest.approx(0.0, abs=1e-12)
    noise = np.random.default_rng(9).uniform(size=v.shape)
    assert mig(v, noise) < 0.05


def test_bad_input():
    v = _factors(n=50)
    with pytest.raises(CausalError, match="at least 2"):
        mig(v, v[:, :1])
    with pytest.raises(CausalError, match="at least 2"):
        sap(v, v[:, :1])
    with pytest.raises(CausalError, match="test_fraction"):
        dci(v, v, test_fraction=1.5)
    with pytest.raises(CausalError, match="factor 0 of factors is constant"):
        mig(np.column_stack([np.ones(50), v[:, 0]]), v)
