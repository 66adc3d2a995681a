"""Queries against closed-form answers: Pearl's linear SCM, Gaussian posteriors, Gumbel-max."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl.testing.analytic import linear_gaussian_counterfactual

A, B, C = 0.5, 0.7, 0.4  # Pearl, Glymour & Jewell (2016), section 4.2.3

# Closed-form answers hold wherever the intervention puts units; the extrapolation warning
# (tested in tests/queries/test_overlap.py) is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")


def pearl():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(A * x, 1.0))
    return pyro.sample("y", dist.Normal(B * x + C * h, 1.0))


W = np.array([[0, A, B], [0, 0, C], [0, 0, 0]], dtype=float)  # W[i, j]: weight of i -> j
NAMES = ["x", "h", "y"]


def _cf_posterior(evidence: dict, do: dict, outcome: str):
    """Closed-form mean/sd of the counterfactual outcome given (partial) evidence."""
    index = NAMES.index
    mean, cov = linear_gaussian_counterfactual(
        W, {index(k): v for k, v in evidence.items()}, {index(k): v for k, v in do.items()}
    )
    i = index(outcome)
    return mean[i], math.sqrt(max(cov[i, i], 0.0))


def test_pearl_full_evidence_counterfactual_is_exact():
    cf = cp.counterfactual(pearl, evidence={"x": 0.5, "h": 1.0, "y": 1.5}, do={"h": 2.0}, num_samples=4)
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(cf.y.sel(world="counterfactual"), 1.9, atol=1e-12)
    assert np.array_equal(cf.y.sel(world="factual"), np.full(4, 1.5))
    assert np.array_equal(cf.h.sel(world="counterfactual"), np.full(4, 2.0))
    assert np.array_equal(cf.x.sel(world="counterfactual"), np.full(4, 0.5))


def test_pearl_interventional_and_observational_means():
    obs = cp.sample(pearl, 20000, seed=1)
    inter = cp.sample(pearl, 20000, do={"h": 2.0}, seed=1)
    assert abs(float(obs.y.mean())) < 0.05
    assert float(inter.y.mean()) == pytest.approx(C * 2.0, abs=0.03)
    assert np.all(inter.h.values == 2.0)
    # Var(y | do(h=2)) = B^2 + 1
    assert float(inter.y.var()) == pytest.approx(B**2 + 1, rel=0.05)


@pytest.mark.parametrize("method", ["importance", "svi"])
def test_partial_evidence_matches_gaussian_posterior(method):
    evidence, do = {"y": 1.5}, {"h": 2.0}
    mean, sd = _cf_posterior(evidence, do, "y")
    kw = dict(num_particles=200000) if method == "importance" else dict(svi_steps=1500)
    cf = cp.counterfactual(pearl, evidence=evidence, do=do, num_samples=20000, seed=3, abduction=method, **kw)
    assert cf.attrs["abduction"] == method
    y = cf.y.sel(world="counterfactual")
    assert float(y.mean()) == pytest.approx(mean, abs=0.04)
    assert float(y.std()) == pytest.approx(sd, abs=0.04)
    assert np.all(cf.y.sel(world="factual").values == 1.5)


def test_partial_evidence_two_sites_auto_picks_importance():
    evidence, do = {"h": 0.3, "y": -1.0}, {"x": 1.0}
    mean, sd = _cf_posterior(evidence, do, "y")
    cf = cp.counterfactual(pearl, evidence=evidence, do=do, num_samples=20000, seed=4, num_particles=200000)
    assert cf.attrs["abduction"] == "importance"
    assert float(cf.y.sel(world="counterfactual").mean()) == pytest.approx(mean, abs=0.03)
    assert float(cf.y.sel(world="counterfactual").std()) == pytest.approx(sd, abs=0.03)


def test_unobserved_descendants_keep_exact_abduction():
    # Only x observed: h and y have no observed descendants, their noise stays the prior's.
    cf = cp.counterfactual(pearl, evidence={"x": 1.0}, do={"x": 0.0}, num_samples=20000, seed=5)
    assert cf.attrs["abduction"] == "exact"
    dy = cf.y.sel(world="counterfactual") - cf.y.sel(world="factual")
    assert np.allclose(dy, -(B + A * C), atol=1e-12)  # noise shared: the change is deterministic


def test_confounding_separates_seeing_from_doing():
    def model():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        t = pyro.sample("t", dist.Normal(z, 1.0))
        return pyro.sample("y", dist.Normal(2.0 * t + 3.0 * z, 1.0))

    ds = cp.sample(model, 40000, seed=0)
    t, y = ds.t.values, ds.y.values
    seeing = np.cov(t, y)[0, 1] / t.var(ddof=1)  # E[y|t] slope: 2 + 3 Cov(z,t)/Var(t) = 3.5
    doing = cp.effect(model, "y", do={"t": 1.0}, baseline={"t": 0.0}, num_samples=1000)
    assert seeing == pytest.approx(3.5, abs=0.05)
    assert doing == pytest.approx(2.0, abs=1e-9)  # paired potential outcomes: exact
    inter = cp.sample(model, 40000, do={"t": 1.0}, seed=0)
    assert float(inter.y.mean()) == pytest.approx(2.0, abs=0.05)


# --- Gumbel-max counterfactual law ---------------------------------------------------------
L0 = np.array([1.0, 0.0, -1.0])  # logits of y under t = 0
L1 = np.array([0.0, 0.5, 1.0])  # under t = 1


def cat_model():
    t = pyro.sample("t", dist.Categorical(torch.tensor([0.4, 0.6])))
    logits = torch.stack([torch.tensor(L0), torch.tensor(L1)])[t]
    return pyro.sample("y", dist.Categorical(logits=logits))


def _gumbel_cf_law(l0, l1, a):
    """P(argmax(l1 + g) = b | argmax(l0 + g) = a), g iid Gumbel(0,1), by 2-D quadrature."""
    grid = np.linspace(-6, 14, 3001)
    dx = grid[1] - grid[0]
    F = lambda x: np.exp(-np.exp(-x))  # noqa: E731
    f = lambda x: np.exp(-x - np.exp(-x))  # noqa: E731
    k_all = range(len(l0))
    joint = np.zeros(len(l0))
    ga = grid[:, None]
    for b in k_all:
        if b == a:
            lim = np.ones_like(grid)
            for k in k_all:
                if k != a:
                    lim = lim * F(np.minimum(l0[a] - l0[k] + grid, l1[a] - l1[k] + grid))
            joint[b] = np.sum(f(grid) * lim) * dx
            continue
        gb = grid[None, :]
        ok = (l0[b] + gb < l0[a] + ga) & (l1[a] + ga < l1[b] + gb)
        lim = np.ones((grid.size, grid.size))
        for k in k_all:
            if k not in (a, b):
                lim = lim * F(np.minimum(l0[a] - l0[k] + ga, l1[b] - l1[k] + gb))
        joint[b] = np.sum(f(ga) * f(gb) * ok * lim) * dx * dx
    return joint / joint.sum()


def test_gumbel_max_counterfactual_law_is_exact():
    law = _gumbel_cf_law(L0, L1, a=1)
    n = 40000
    cf = cp.counterfactual(cat_model, evidence={"t": 0, "y": 1}, do={"t": 1}, num_samples=n, seed=0)
    assert cf.attrs["abduction"] == "exact"
    assert np.all(cf.y.sel(world="factual").values == 1)
    freq = np.bincount(cf.y.sel(world="counterfactual").values, minlength=3) / n
    assert np.allclose(freq, law, atol=4 * np.sqrt(law * (1 - law) / n) + 1e-3), (freq, law)
    # Counterfactual stability (Oberst & Sontag): a category whose logit rose relative to
    # every other cannot be abandoned. Logit of 2 rises by 2, of 1 by 0.5, of 0 falls by 1.
    assert freq[0] == 0.0


def test_bernoulli_gumbel_max_matches_monotone_law():
    def model():
        x = pyro.sample("x", dist.Bernoulli(0.5))
        return pyro.sample("y", dist.Bernoulli(logits=2.0 * x - 1.0))

    n = 40000
    cf = cp.counterfactual(model, evidence={"x": 1.0, "y": 1.0}, do={"x": 0.0}, num_samples=n, seed=0)
    # y = 1[logit + L > 0] with logistic L; given L > -1, P(L > 1) = sigmoid(-1) / sigmoid(1).
    expected = (1 / (1 + math.e)) / (1 / (1 + math.exp(-1)))
    assert float(cf.y.sel(world="counterfactual").mean()) == pytest.approx(expected, abs=0.012)
