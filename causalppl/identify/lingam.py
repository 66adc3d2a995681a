"""Structure identification for linear SEMs that are identifiable from observational data.

* :func:`fit_lingam`: non-Gaussian noise (Shimizu et al. 2006, ICA-LiNGAM): ICA by maximum
  likelihood of the Pyro program :func:`~causalppl.identify.ica.ica_model`, rows of the
  unmixing permuted to a zero-free diagonal and normalised, the causal order read from the
  resulting ``B = I - W'``, then edges kept by t-tests of OLS fits along that order.
* :func:`fit_equal_variance_sem`: Gaussian noise with one shared variance (Peters &
  Bühlmann 2014): the exact maximum-likelihood causal order of the equal-variance
  :class:`~causalppl.identify.linear_sem.LinearSEM` — the order minimising the summed
  residual variances — by dynamic programming over subsets, then the same pruning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .. import checks
from ..errors import CausalError
from .ica import fit_ica
from .linear_sem import LinearSEM, as_data_matrix, fit_linear_sem, prune_order

__all__ = ["equal_variance_order", "fit_equal_variance_sem", "fit_lingam", "lingam_order"]

_MAX_EXACT_NODES = 16  # the subset DP visits d * 2**d (node, set) pairs


def lingam_order(unmixing: torch.Tensor) -> list[int]:
    """The causal order implied by an ICA unmixing matrix ``W`` (sources = ``W x``).

    Rows are matched to variables so the diagonal is far from zero (Hungarian on
    ``1/|W_ij|``), scaled to a unit diagonal, and ``B = I - W'`` is read greedily: the next
    variable is the one whose row of ``B`` has the least mass on the variables still
    unordered (a source has none).

    Example:
        >>> b = torch.tensor([[0.0, 0.0], [1.5, 0.0]], dtype=torch.float64)  # x1 = 1.5 x0 + e1
        >>> lingam_order(torch.eye(2, dtype=torch.float64) - b)
        [0, 1]
    """
    from scipy.optimize import linear_sum_assignment  # scipy loads on first use, not with the library

    w = unmixing.detach().cpu().numpy()
    rows, cols = linear_sum_assignment(1.0 / np.maximum(np.abs(w), 1e-300))
    w_perm = np.empty_like(w)
    w_perm[cols] = w[rows]
    b = np.eye(len(w)) - w_perm / np.diag(w_perm)[:, None]
    remaining, order = list(range(len(w))), []
    while remaining:
        mass = [sum(b[j, k] ** 2 for k in remaining if k != j) for j in remaining]
        order.append(remaining.pop(int(np.argmin(mass))))
    return order


def fit_lingam(
    x, nodes: Sequence[str] | None = None, *, alpha: float = 1e-3, seed: int | None = 0, restarts: int = 2
) -> LinearSEM:
    """ICA-LiNGAM: causal order and weights of a linear SEM with non-Gaussian noise.

    Args:
        x: ``[n, d]`` data (or a mapping of columns); noise must be non-Gaussian.
        alpha: level of the per-coefficient t-tests that decide which edges stay.
        seed, restarts: passed to :func:`~causalppl.identify.ica.fit_ica`.

    Returns:
        A :class:`LinearSEM` with OLS weights on the pruned graph (noise family
        ``"laplace"`` for its Pyro program; only the graph and weights are estimates).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> e = torch.rand(2000, 2, generator=g, dtype=torch.float64) - 0.5
        >>> x = torch.stack([e[:, 0], 1.5 * e[:, 0] + e[:, 1]], -1)
        >>> fit_lingam(x, ["a", "b"]).graph.edges
        [('a', 'b')]
    """
    data, names = as_data_matrix(x, nodes)
    alpha = checks.open_fraction(alpha, "alpha")
    order = lingam_order(fit_ica(data, seed=seed, restarts=restarts).unmixing)
    graph = prune_order(data, names, order, alpha)
    sem = fit_linear_sem(data, graph, names, noise="laplace")
    sem.order = [names[j] for j in order]
    return sem


def equal_variance_order(x: torch.Tensor) -> list[int]:
    """The order minimising ``Σ_j RSS(x_j | predecessors)``: the maximum-likelihood order of
    an equal-variance Gaussian SEM, exactly, by dynamic programming over subsets.

    Residual sums of squares come from the sample covariance (Schur complements).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> e = torch.randn(2000, 2, generator=g, dtype=torch.float64)
        >>> equal_variance_order(torch.stack([e[:, 1] + 0.8 * e[:, 0], e[:, 0]], -1))  # x1 -> x0
        [1, 0]
    """
    d = x.shape[1]
    if d > _MAX_EXACT_NODES:
        raise CausalError(f"equal_variance_order is exact up to {_MAX_EXACT_NODES} nodes, got {d}")
    xc = (x - x.mean(0)).detach().cpu().numpy()
    cov = xc.T @ xc / xc.shape[0]
    best = {0: (0.0, [])}  # subset bitmask -> (cost, order of that subset)
    for mask in range(1, 1 << d):
        members = [j for j in range(d) if mask >> j & 1]
        options = []
        for j in members:
            rest = [k for k in members if k != j]
            prev_cost, prev_order = best[mask & ~(1 << j)]
            options.append((prev_cost + _residual_variance(cov, j, rest), prev_order + [j]))
        best[mask] = min(options, key=lambda t: t[0])
    return best[(1 << d) - 1][1]


def _residual_variance(cov: np.ndarray, j: int, given: list[int]) -> float:
    if not given:
        return float(cov[j, j])
    s = cov[np.ix_(given, given)]
    c = cov[given, j]
    return float(cov[j, j] - c @ np.linalg.solve(s, c))


def fit_equal_variance_sem(x, nodes: Sequence[str] | None = None, *, alpha: float = 1e-3) -> LinearSEM:
    """Equal-variance linear-Gaussian SEM: graph, weights and the shared noise sd.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> e = torch.randn(2000, 2, generator=g, dtype=torch.float64)
        >>> x = torch.stack([e[:, 1] + 0.8 * e[:, 0], e[:, 0]], -1)  # x1 -> x0
        >>> fit_equal_variance_sem(x).graph.edges
        [('x1', 'x0')]
    """
    data, names = as_data_matrix(x, nodes)
    alpha = checks.open_fraction(alpha, "alpha")
    order = equal_variance_order(data)
    graph = prune_order(data, names, order, alpha)
    sem = fit_linear_sem(data, graph, names, equal_variance=True)
    sem.order = [names[j] for j in order]
    return sem
