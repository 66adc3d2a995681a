"""Linear structural equation models: the Pyro program, its likelihood, and OLS fits.

``x_j = b_j + Σ_i w_ij x_i + sd_j · U_j``. For Gaussian noise, ordinary least squares per
node *is* the maximiser of the program's log density (per-node variances: ``RSS_j / n``;
one shared variance: ``Σ_j RSS_j / (n d)``), so fits are closed-form; the tests check
that the gradient of :meth:`LinearSEM.log_likelihood` vanishes at them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyro
import pyro.poutine as poutine
import torch
from scipy.stats import t as student_t

from ..errors import CausalError
from ..graph import CausalGraph
from ..noise.families import noise_distribution

__all__ = ["LinearSEM", "as_data_matrix", "fit_linear_sem", "prune_order", "significant_parents"]


def as_data_matrix(x, nodes: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """``x`` as a float tensor ``[n, d]`` and its column names.

    ``x`` is a ``[n, d]`` tensor/array (columns named by ``nodes``, default ``x0..``) or a
    mapping ``{name: [n] values}`` (columns in the mapping's order unless ``nodes`` given).
    """
    if isinstance(x, Mapping):
        names = list(nodes) if nodes is not None else list(x)
        missing = [n for n in names if n not in x]
        if missing:
            raise CausalError(f"x has no column for nodes {missing}; it has {list(x)}")
        cols = [torch.as_tensor(np.asarray(x[n]), dtype=torch.get_default_dtype()).reshape(-1) for n in names]
        data = torch.stack(cols, -1)
    else:
        data = torch.as_tensor(np.asarray(x), dtype=torch.get_default_dtype())
        if data.ndim != 2:
            raise CausalError(f"x must be a [n, d] matrix, got shape {tuple(data.shape)}")
        names = list(nodes) if nodes is not None else [f"x{i}" for i in range(data.shape[1])]
        if len(names) != data.shape[1]:
            raise CausalError(f"{len(names)} node names for {data.shape[1]} columns of x")
    if not torch.isfinite(data).all():
        raise CausalError("x contains NaN or inf")
    if data.shape[0] <= data.shape[1] + 1:
        raise CausalError(f"x needs more rows than columns + 1, got shape {tuple(data.shape)}")
    return data, names


@dataclass
class LinearSEM:
    """A fitted linear SEM over named nodes.

    Attributes:
        graph: the causal DAG.
        nodes: column order of ``weights``, ``intercepts``, ``scales`` and of data matrices.
        weights: ``[d, d]``; ``weights[i, j]`` is the weight of ``nodes[i] -> nodes[j]``.
        intercepts, scales: ``[d]`` intercepts and noise standard deviations.
        noise: the noise family of :meth:`model` (see
            :func:`~causalppl.testing.random_models.noise_distribution`).
        order: the causal order the fitter found (a linear extension of ``graph``).
    """

    graph: CausalGraph
    nodes: list[str]
    weights: torch.Tensor
    intercepts: torch.Tensor
    scales: torch.Tensor
    noise: str = "gaussian"
    order: list[str] | None = None

    def model(self) -> dict[str, torch.Tensor]:
        """The SEM as a Pyro program for one unit."""
        index = {n: i for i, n in enumerate(self.nodes)}
        values: dict[str, torch.Tensor] = {}
        for node in self.graph.nodes:
            j = index[node]
            loc = self.intercepts[j]
            for p in self.graph.parents(node):
                loc = loc + self.weights[index[p], j] * values[p]
            values[node] = pyro.sample(node, noise_distribution(self.noise, loc, self.scales[j]))
        return values

    def log_likelihood(self, x) -> torch.Tensor:
        """Total log density of the rows of ``x`` (columns in :attr:`nodes` order) under
        :meth:`model`, through ``pyro.condition`` in a plate; differentiable in the params."""
        data, _ = as_data_matrix(x, self.nodes)
        obs = {n: data[:, i] for i, n in enumerate(self.nodes)}
        with pyro.plate("units", data.shape[0]):
            tr = poutine.trace(poutine.condition(self.model, obs)).get_trace()
        return tr.log_prob_sum()


def _ols(x: torch.Tensor, j: int, preds: Sequence[int]):
    """Regress column ``j`` on ``preds`` with intercept: ``(coef, intercept, rss, se)``."""
    n = x.shape[0]
    design = torch.cat([x[:, list(preds)], torch.ones(n, 1, dtype=x.dtype)], 1)
    sol = torch.linalg.lstsq(design, x[:, j : j + 1]).solution[:, 0]
    resid = x[:, j] - design @ sol
    rss = float(resid @ resid)
    dof = max(n - design.shape[1], 1)
    cov = rss / dof * torch.linalg.inv(design.T @ design)
    return sol[:-1], float(sol[-1]), rss, torch.sqrt(torch.diagonal(cov)[:-1])


def fit_linear_sem(x, graph, nodes: Sequence[str] | None = None, *, equal_variance: bool = False,
                   noise: str = "gaussian") -> LinearSEM:
    """Maximum-likelihood linear-Gaussian SEM on a given DAG (OLS per node).

    Args:
        x: data (see :func:`as_data_matrix`); columns must cover the graph's nodes.
        graph: a :class:`CausalGraph` or parents dict.
        equal_variance: one noise variance for all nodes.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.randn(500, generator=g, dtype=torch.float64)
        >>> b = 2.0 * a + 0.5 * torch.randn(500, generator=g, dtype=torch.float64)
        >>> sem = fit_linear_sem({"a": a, "b": b}, {"a": [], "b": ["a"]})
        >>> round(float(sem.weights[0, 1]), 1), round(float(sem.scales[1]), 1)
        (2.0, 0.5)
    """
    graph = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
    data, names = as_data_matrix(x, nodes if nodes is not None else (None if isinstance(x, Mapping) else graph.nodes))
    if set(names) != set(graph.nodes):
        raise CausalError(f"x has columns {names} but the graph has nodes {graph.nodes}")
    index = {n: i for i, n in enumerate(names)}
    d, n = len(names), data.shape[0]
    weights = torch.zeros(d, d, dtype=data.dtype)
    intercepts = torch.zeros(d, dtype=data.dtype)
    rss = torch.zeros(d, dtype=data.dtype)
    for node in graph.nodes:
        j, preds = index[node], [index[p] for p in graph.parents(node)]
        coef, icpt, rss[j], _ = _ols(data, j, preds)
        weights[preds, j] = coef
        intercepts[j] = icpt
    var = (rss.sum() / (n * d)).expand(d).clone() if equal_variance else rss / n
    return LinearSEM(graph, names, weights, intercepts, var.sqrt(), noise, list(graph.nodes))


def significant_parents(x: torch.Tensor, j: int, preds: Sequence[int], alpha: float) -> list[int]:
    """The columns among ``preds`` whose OLS coefficient (regressing column ``j`` on all of
    ``preds``) has a two-sided t-test p-value below ``alpha``."""
    if not 0 < alpha < 1:
        raise CausalError(f"alpha must lie in (0, 1), got {alpha}")
    if not preds:
        return []
    coef, _, _, se = _ols(x, j, preds)
    tstat = (coef / se.clamp_min(1e-300)).abs().numpy()
    pvals = 2.0 * student_t.sf(tstat, df=max(x.shape[0] - len(preds) - 1, 1))
    return [p for p, pv in zip(preds, pvals) if pv < alpha]


def prune_order(x: torch.Tensor, names: Sequence[str], order: Sequence[int], alpha: float) -> CausalGraph:
    """The DAG compatible with ``order`` (a permutation of the columns) whose edges are the
    :func:`significant_parents` of each node among its predecessors."""
    parents = {names[j]: [names[p] for p in significant_parents(x, j, list(order[:pos]), alpha)]
               for pos, j in enumerate(order)}
    return CausalGraph({nm: parents[nm] for nm in names})
