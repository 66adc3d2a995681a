"""Linear SEMs: the Pyro program's likelihood, closed-form fits, and the order searches."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.identify import LinearSEM, fit_linear_sem
from causalppl.identify.linear_sem import as_data_matrix
from causalppl.identify.lingam import equal_variance_order, lingam_order
from causalppl.testing import strategies as st


@given(scm=st.linear_gaussian_scms(max_nodes=4), equal=hst.booleans(), seed=hst.integers(0, 1000))
def test_ols_fit_maximises_the_pyro_log_density(scm, equal, seed):
    x = scm.data_matrix(300, seed=seed)
    sem = fit_linear_sem(x, scm.graph, scm.graph.nodes, equal_variance=equal)
    assert cp.graph(sem.model) == scm.graph
    mask = torch.as_tensor(scm.graph.adjacency(), dtype=x.dtype)  # sem.nodes == graph.nodes here
    weights = sem.weights.clone().requires_grad_(True)
    intercepts = sem.intercepts.clone().requires_grad_(True)
    # One shared log-scale when the variance is shared, else one per node.
    log_scale = (sem.scales[:1] if equal else sem.scales).log().clone().requires_grad_(True)
    scales = log_scale.exp().expand(len(sem.nodes))
    ll = LinearSEM(sem.graph, sem.nodes, weights, intercepts, scales).log_likelihood(x)
    ll.backward()
    n = x.shape[0]
    if weights.grad is not None:  # None when the graph has no edges
        assert float((weights.grad * mask).abs().sum()) < 1e-6 * n
    assert float(intercepts.grad.abs().max()) < 1e-6 * n
    assert float(log_scale.grad.abs().max()) < 1e-6 * n
    # ... and the value is the Gaussian log density written out by hand.
    resid = x - (x @ sem.weights + sem.intercepts)
    ref = (-0.5 * (resid / sem.scales) ** 2 - torch.log(sem.scales) - 0.5 * math.log(2 * math.pi)).sum()
    assert float(ll.detach()) == pytest.approx(float(ref), rel=1e-10)


def _brute_force_order(x):
    xc = (x - x.mean(0)).numpy()
    cov = xc.T @ xc / len(xc)
    d = cov.shape[0]

    def rv(j, given):
        if not given:
            return cov[j, j]
        s = cov[np.ix_(given, given)]
        return cov[j, j] - cov[given, j] @ np.linalg.solve(s, cov[given, j])

    return min(itertools.permutations(range(d)), key=lambda p: sum(rv(j, list(p[:i])) for i, j in enumerate(p)))


@given(seed=hst.integers(0, 10_000), d=hst.integers(1, 5))
def test_equal_variance_order_dp_matches_brute_force(seed, d):
    x = torch.randn(60, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x @ torch.randn(d, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    dp = equal_variance_order(x)
    bf = _brute_force_order(x)

    def cost(order):
        return fit_linear_sem(
            x,
            {f"x{j}": [f"x{k}" for k in order[:i]] for i, j in enumerate(order)},
            [f"x{i}" for i in range(d)],
            equal_variance=True,
        ).scales[0]

    assert float(cost(dp)) == pytest.approx(float(cost(bf)), rel=1e-10)


@given(scm=st.linear_scms("laplace", max_nodes=5), seed=hst.integers(0, 100))
def test_lingam_order_of_the_exact_unmixing_is_causal(scm, seed):
    """Fed the true unmixing (rows permuted and rescaled, as ICA returns it), the order is
    a linear extension of the DAG."""
    nodes = scm.graph.nodes
    d = len(nodes)
    b = torch.zeros(d, d, dtype=torch.float64)
    for (p, c), w in scm.weights.items():
        b[nodes.index(c), nodes.index(p)] = w
    rng = np.random.default_rng(seed)
    w = (torch.eye(d, dtype=torch.float64) - b)[rng.permutation(d)] * torch.as_tensor(rng.uniform(0.5, 2, (d, 1)))
    order = [nodes[j] for j in lingam_order(w)]
    assert all(order.index(p) < order.index(c) for p, c in scm.graph.edges)


def test_data_matrix_bad_input():
    with pytest.raises(CausalError, match="no column for nodes \\['b'\\]"):
        as_data_matrix({"a": np.zeros(5)}, ["a", "b"])
    with pytest.raises(CausalError, match="NaN"):
        as_data_matrix(np.full((10, 2), np.nan))
    with pytest.raises(CausalError, match="more rows"):
        as_data_matrix(np.zeros((2, 2)))
    with pytest.raises(CausalError, match="3 node names for 2 columns"):
        as_data_matrix(np.zeros((10, 2)), ["a", "b", "c"])
    with pytest.raises(CausalError, match="columns"):
        fit_linear_sem(np.zeros((10, 2)), {"a": [], "b": ["a"]}, ["a", "c"])
