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

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph
from ..noise.families import NOISE_FAMILIES, noise_distribution

__all__ = ["LinearSEM", "as_data_matrix", "fit_linear_sem", "prune_order", "significant_parents"]


def as_data_matrix(x, nodes: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """``x`` as a float tensor ``[n, d]`` and its column names.

    ``x`` is a ``[n, d]`` tensor/array (columns named by ``nodes``, default ``x0..``) or a
    mapping ``{name: [n] values}`` (columns in the mapping's order unless ``nodes`` given).

    Raises:
        CausalError: NaN or inf, fewer than ``d + 2`` rows, columns of different lengths,
            or ``nodes`` that are not distinct names matching the columns.

    Example:
        >>> data, names = as_data_matrix({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
        >>> tuple(data.shape), names
        ((4, 2), ['a', 'b'])
    """
    if nodes is not None:
        nodes = checks.names(nodes, "nodes")
    if isinstance(x, Mapping):
        names = nodes if nodes is not None else checks.names(list(x), "the columns of x")
        missing = [n for n in names if n not in x]
        if missing:
            raise CausalError(f"x has no column for nodes {missing}; it has {list(x)}")
        cols = [checks.matrix(x[n], f"x[{n!r}]") for n in names]
        for n, c in zip(names, cols):
            if c.shape[1] != 1 or c.shape[0] != cols[0].shape[0]:
                raise CausalError(
                    f"x[{n!r}] must be a vector of {cols[0].shape[0]} values like x[{names[0]!r}], got shape {c.shape}"
                )
        data = torch.as_tensor(np.concatenate(cols, 1), dtype=torch.get_default_dtype())
    else:
        data = torch.as_tensor(checks.matrix(x, "x"), dtype=torch.get_default_dtype())
        names = nodes if nodes is not None else [f"x{i}" for i in range(data.shape[1])]
        if len(names) != data.shape[1]:
            raise CausalError(f"{len(names)} node names for {data.shape[1]} columns of x")
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
            :func:`~causalppl.noise.families.noise_distribution`).
        order: the causal order the fitter found (a linear extension of ``graph``).

    Example:
        >>> import causalppl as cp
        >>> sem = LinearSEM(CausalGraph({"a": [], "b": ["a"]}), ["a", "b"], torch.tensor([[0.0, 2.0], [0.0, 0.0]]),
        ...                 torch.zeros(2), torch.ones(2))
        >>> cf = cp.counterfactual(sem.model, {"a": 1.0, "b": 2.5}, {"a": 0.0}, num_samples=1)
        >>> cf.b.sel(world="counterfactual").item()  # b* = b + 2 (a* - a)
        0.5
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


def fit_linear_sem(
    x, graph, nodes: Sequence[str] | None = None, *, equal_variance: bool = False, noise: str = "gaussian"
) -> LinearSEM:
    """Maximum-likelihood linear-Gaussian SEM on a given DAG (OLS per node).

    Args:
        x: data (see :func:`as_data_matrix`); columns must cover the graph's nodes.
        graph: a :class:`CausalGraph` or parents dict.
        nodes: names of the columns of a matrix ``x`` (default: the graph's nodes).
        equal_variance: one noise variance for all nodes.
        noise: the noise family of the fitted program (one of
            :data:`~causalppl.noise.families.NOISE_FAMILIES`); the fit itself is OLS.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.randn(500, generator=g, dtype=torch.float64)
        >>> b = 2.0 * a + 0.5 * torch.randn(500, generator=g, dtype=torch.float64)
        >>> sem = fit_linear_sem({"a": a, "b": b}, {"a": [], "b": ["a"]})
        >>> round(float(sem.weights[0, 1]), 1), round(float(sem.scales[1]), 1)
        (2.0, 0.5)
    """
    if not isinstance(graph, (CausalGraph, Mapping)):
        raise CausalError(f"graph must be a CausalGraph or a parents dict, got {type(graph).__name__}")
    graph = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
    equal_variance = checks.boolean(equal_variance, "equal_variance")
    noise = checks.choice(noise, "noise", NOISE_FAMILIES)
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
    ``preds``) has a two-sided t-test p-value below ``alpha``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 3, generator=g, dtype=torch.float64)
        >>> x[:, 2] += 2.0 * x[:, 0]
        >>> significant_parents(x, 2, [0, 1], alpha=1e-3)
        [0]
    """
    alpha = checks.open_fraction(alpha, "alpha")
    if not preds:
        return []
    from scipy.stats import t as student_t  # scipy loads on first use, not with the library

    coef, _, _, se = _ols(x, j, preds)
    tstat = (coef / se.clamp_min(1e-300)).abs().numpy()
    pvals = 2.0 * student_t.sf(tstat, df=max(x.shape[0] - len(preds) - 1, 1))
    return [p for p, pv in zip(preds, pvals) if pv < alpha]


def prune_order(x: torch.Tensor, names: Sequence[str], order: Sequence[int], alpha: float) -> CausalGraph:
    """The DAG compatible with ``order`` (a permutation of the columns) whose edges are the
    :func:`significant_parents` of each node among its predecessors.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 2, generator=g, dtype=torch.float64)
        >>> x[:, 0] += 2.0 * x[:, 1]
        >>> prune_order(x, ["a", "b"], [1, 0], alpha=1e-3).edges
        [('b', 'a')]
    """
    parents = {
        names[j]: [names[p] for p in significant_parents(x, j, list(order[:pos]), alpha)] for pos, j in enumerate(order)
    }
    return CausalGraph({nm: parents[nm] for nm in names})
