"""Closed-form answers for linear-Gaussian SCMs, the ground truth of tests and benchmarks.

The SCM is ``v = W^T v + b + D u`` with ``u ~ N(0, I)``: ``W[i, j]`` is the weight of edge
``i -> j`` (nodes in topological order), ``b`` intercepts, ``D = diag(noise_sd)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["linear_gaussian_counterfactual", "linear_gaussian_interventional"]


def _solve(weights, intercept, noise_sd, do: Mapping[int, float]):
    """``v = A u + c`` in the world where ``do`` holds (intervened nodes lose parents and noise)."""
    w = np.array(weights, dtype=float)
    n = w.shape[0]
    b = np.zeros(n) if intercept is None else np.array(intercept, dtype=float)
    d = np.diag(np.asarray(noise_sd, dtype=float) * np.ones(n))
    for j, v in do.items():
        w[:, j] = 0.0
        d[j, :] = 0.0
        b[j] = v
    m = np.linalg.inv(np.eye(n) - w.T)
    return m @ d, m @ b


def linear_gaussian_interventional(weights, noise_sd=1.0, intercept=None, do: Mapping[int, float] | None = None):
    """Mean and covariance of all nodes under ``do`` (``{node index: value}``).

    Example:
        >>> mean, cov = linear_gaussian_interventional([[0, 2.0], [0, 0]], do={0: 1.0})
        >>> mean.tolist(), cov.tolist()
        ([1.0, 2.0], [[0.0, 0.0], [0.0, 1.0]])
    """
    a, c = _solve(weights, intercept, noise_sd, do or {})
    return c, a @ a.T


def linear_gaussian_counterfactual(
    weights,
    evidence: Mapping[int, float],
    do: Mapping[int, float],
    noise_sd: float | Sequence[float] = 1.0,
    intercept=None,
):
    """Mean and covariance of all counterfactual nodes given (partial) factual evidence.

    Abduction is the Gaussian posterior of ``u`` given the observed nodes; prediction pushes
    it through the intervened world.

    Example:
        >>> w = [[0, 0.5, 0.7], [0, 0, 0.4], [0, 0, 0]]   # Pearl's x -> h -> y, x -> y
        >>> mean, cov = linear_gaussian_counterfactual(w, {0: 0.5, 1: 1.0, 2: 1.5}, {1: 2.0})
        >>> round(float(mean[2]), 6), abs(float(cov[2, 2])) < 1e-12   # y is determined: zero variance
        (1.9, True)
    """
    a_f, c_f = _solve(weights, intercept, noise_sd, {})
    idx = list(evidence)
    s = a_f[idx]
    e = np.array([evidence[i] for i in idx], dtype=float) - c_f[idx]
    gain = s.T @ np.linalg.pinv(s @ s.T)
    mu_u = gain @ e
    cov_u = np.eye(len(c_f)) - gain @ s
    a_cf, c_cf = _solve(weights, intercept, noise_sd, do)
    return a_cf @ mu_u + c_cf, a_cf @ cov_u @ a_cf.T
