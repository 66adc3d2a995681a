"""Every query family against closed forms, over the model families the queries must handle:
a model's own plates, vector sites, MultivariateNormal, transformed (flow) sites, scale-family
laws (LogNormal, Exponential, Gamma with a fixed shape), Gumbel-max categories, deterministic
sites and explicit noise, observations inside the model, functional interventions,
confounding, and partial evidence against the exact Gaussian posterior.

Monte Carlo tolerances are about five standard errors of the estimate (stated per check);
exact answers (full evidence, paired worlds whose difference does not depend on the noise)
are checked to rounding error."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.distributions.transforms import AffineTransform, ExpTransform, SigmoidTransform

import causalppl as cp

N = 20000  # samples per Monte Carlo check: a mean's standard error is sd / 141


def cf_world(ds, site):
    return ds[site].sel(world="counterfactual").values


def fact_world(ds, site):
    return ds[site].sel(world="factual").values


# -- a model's own plate -----------------------------------------------------------------------
F64 = torch.float64  # module constants are built before the float64 fixture runs
WEIGHTS = torch.tensor([1.0, 2.0, 3.0], dtype=F64)


def plated():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    with pyro.plate("items", 3):
        y = pyro.sample("y", dist.Normal(WEIGHTS * x, 1.0))
    # Outside the plate its dim stays (size 1): the query's sample and world dims keep their places.
    return pyro.deterministic("total", y.sum(-1, keepdim=True), event_dim=0)


def test_plate_model_under_every_query():
    ds = cp.sample(plated, N, do={"x": 1.0}, seed=0)
    assert ds.y.dims == ("sample", "items")
    assert np.allclose(ds.y.mean("sample"), WEIGHTS, atol=0.04)  # y_i ~ N(w_i, 1): se 0.007
    y = torch.tensor([0.1, 0.2, 0.3])
    cf = cp.counterfactual(plated, {"x": 0.5, "y": y}, {"x": 1.0}, num_samples=2)
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(cf_world(cf, "y"), (y + WEIGHTS * 0.5).numpy(), atol=1e-12)
    assert cp.effect(plated, "total", {"x": 1.0}, {"x": 0.0}, num_samples=100) == pytest.approx(6.0, abs=1e-9)
    # y alone: x | y ~ N(w.y / 15, 1 / 15) (precision 1 + |w|^2); under do(x=0), y_cf = y - w x.
    cf = cp.counterfactual(plated, {"y": y}, {"x": 0.0}, num_samples=N, seed=1)
    assert cf.attrs["abduction"] == "importance"
    x = fact_world(cf, "x")
    assert x.mean() == pytest.approx(float(WEIGHTS @ y) / 15, abs=0.01)  # posterior sd 0.26, ESS > 0.2 N
    assert x.std() == pytest.approx(15**-0.5, rel=0.05)
    assert np.allclose(cf_world(cf, "y"), y.numpy() - np.outer(x, WEIGHTS.numpy()), atol=1e-12)


# -- vector sites and MultivariateNormal -------------------------------------------------------
M = torch.tensor([[1.0, 0.5], [0.0, 2.0], [-1.0, 1.0]], dtype=F64)
SIGMA = torch.tensor([[1.0, 0.8], [0.8, 2.0]], dtype=F64)
SLOPE = torch.tensor([1.0, -1.0], dtype=F64)


def vector():
    x = pyro.sample("x", dist.Normal(torch.zeros(2), 1.0).to_event(1))
    return pyro.sample("y", dist.Normal(x @ M.T, 0.5).to_event(1))


def mvn():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.MultivariateNormal(x.unsqueeze(-1) * SLOPE, SIGMA))


def test_vector_sites():
    ds = cp.sample(vector, N, do={"x": torch.tensor([1.0, -1.0])}, seed=0)
    assert ds.y.dims == ("sample", "y_dim_0")
    assert np.allclose(ds.y.mean("sample"), [0.5, -2.0, -2.0], atol=0.02)  # sd 0.5: se 0.0035
    ev = {"x": torch.tensor([0.3, -0.2]), "y": torch.tensor([1.0, 0.0, -1.0])}
    do = torch.tensor([1.0, 1.0])
    cf = cp.counterfactual(vector, ev, {"x": do}, num_samples=2)
    assert np.allclose(cf_world(cf, "y"), (ev["y"] + M @ (do - ev["x"])).numpy(), atol=1e-12)

    # The effect of a vector intervention on one coordinate, as a deterministic outcome.
    def first():
        return pyro.deterministic("y0", vector()[..., 0])

    assert cp.effect(first, "y0", {"x": do}, {"x": torch.zeros(2)}, num_samples=10) == pytest.approx(1.5, abs=1e-9)
    # y alone: x | y ~ N(P^-1 M^T y / .25, P^-1) with precision P = I + M^T M / .25.
    precision = torch.eye(2, dtype=F64) + M.T @ M / 0.25
    cf = cp.counterfactual(vector, {"y": ev["y"]}, {"x": torch.zeros(2)}, num_samples=N, seed=1)
    x = fact_world(cf, "x")
    assert np.allclose(x.mean(0), torch.linalg.solve(precision, M.T @ ev["y"] / 0.25).numpy(), atol=0.02)
    assert np.allclose(np.cov(x.T), torch.linalg.inv(precision).numpy(), atol=0.01)  # posterior sds 0.33, 0.21


def test_multivariate_normal_site():
    ds = cp.sample(mvn, N, do={"x": 2.0}, seed=0)
    y = ds.y.values
    assert np.allclose(y.mean(0), [2.0, -2.0], atol=0.05)  # se <= sqrt(2 / N) = 0.01
    assert np.allclose(np.cov(y.T), SIGMA.numpy(), atol=0.06)  # se of a covariance entry <= 0.02
    ev = {"x": 0.5, "y": torch.tensor([1.0, -2.0])}
    cf = cp.counterfactual(mvn, ev, {"x": -1.0}, num_samples=2)
    assert cf.attrs["abduction"] == "exact"  # u = L^-1 (y - loc) is recovered
    assert np.allclose(cf_world(cf, "y"), (ev["y"] + SLOPE * -1.5).numpy(), atol=1e-12)
    # y alone: x | y ~ N(b' S^-1 y / p, 1 / p), p = 1 + b' S^-1 b (posterior sd 0.48, ESS > 0.3 N).
    cf = cp.counterfactual(mvn, {"y": ev["y"]}, {"x": -1.0}, num_samples=N, seed=1)
    assert cf.attrs["abduction"] == "importance"
    gain = torch.linalg.solve(SIGMA, SLOPE)
    p = 1 + float(SLOPE @ gain)
    x = fact_world(cf, "x")
    assert x.mean() == pytest.approx(float(gain @ ev["y"]) / p, abs=0.02)
    assert x.std() == pytest.approx(p**-0.5, abs=0.02)
    assert np.allclose(cf_world(cf, "y"), ev["y"].numpy() + np.outer(-1.0 - x, SLOPE.numpy()), atol=1e-9)


# -- transformed sites and scale families -------------------------------------------------------
def flow_site():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    base = dist.Normal(torch.zeros_like(x), 1.0)
    return pyro.sample("y", dist.TransformedDistribution(base, [AffineTransform(x, 0.5), SigmoidTransform()]))


def scale_family(law):
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", law(x))

    return model


LAWS = {
    # name: (law of y given x, E[y | do(x)] as a function of x); y_cf = y exp(x_cf - x) for each
    "lognormal": (lambda x: dist.LogNormal(x, 0.5), lambda x: math.exp(x + 0.125)),
    "exp_transform": (
        lambda x: dist.TransformedDistribution(dist.Normal(x, 0.5), [ExpTransform()]),
        lambda x: math.exp(x + 0.125),
    ),
    "exponential": (lambda x: dist.Exponential((-x).exp()), lambda x: math.exp(x)),
    "gamma": (lambda x: dist.Gamma(2.0, (-x).exp()), lambda x: 2 * math.exp(x)),
}


@pytest.mark.parametrize("name", sorted(LAWS))
def test_scale_families(name):
    law, mean = LAWS[name]
    model = scale_family(law)
    ds = cp.sample(model, N, do={"x": 1.0}, seed=0)
    # Coefficient of variation <= 1 (exponential): se <= mean / 141, tolerance 4%.
    assert float(ds.y.mean()) == pytest.approx(mean(1.0), rel=0.04)
    cf = cp.counterfactual(model, {"x": 0.2, "y": torch.tensor([0.7, 1.9])}, {"x": -0.3}, num_samples=2)
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(cf_world(cf, "y"), np.array([0.7, 1.9]) * math.exp(-0.5), rtol=1e-9)
    # Paired worlds: y1 - y0 = y0 (e - 1) has the arm's spread: se <= 2 (e - 1) / sqrt(N) = 0.025.
    got = cp.effect(model, "y", {"x": 1.0}, {"x": 0.0}, num_samples=N, seed=1)
    assert got == pytest.approx(mean(1.0) - mean(0.0), abs=0.12)


def test_flow_site():
    # y = sigmoid(x + u / 2): logit(y_cf) = logit(y) + x_cf - x.
    cf = cp.counterfactual(flow_site, {"x": 0.5, "y": torch.tensor([0.2, 0.9])}, {"x": 1.5}, num_samples=2)
    assert cf.attrs["abduction"] == "exact"
    logit = np.log(cf_world(cf, "y") / (1 - cf_world(cf, "y")))
    assert np.allclose(logit, np.log([0.25, 9.0]) + 1.0, atol=1e-9)
    ds = cp.sample(flow_site, N, do={"x": 0.0}, seed=0)
    assert float(ds.y.mean()) == pytest.approx(0.5, abs=0.01)  # symmetric about 1/2, sd < 0.15


# -- Gumbel-max categories -------------------------------------------------------------------
def two_categories():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Categorical(logits=torch.stack([torch.zeros_like(x), 2 * x], -1)))


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


@pytest.mark.parametrize(
    "observed, x_cf, expected", [(1, -0.5, sigmoid(-1) / sigmoid(1)), (0, 1.5, sigmoid(-3) / sigmoid(-1))]
)
def test_two_category_gumbel_max_law(observed, x_cf, expected):
    # y = 1 iff L > -2x with L = g1 - g0 ~ Logistic(0, 1). Seen at x = .5 (logit 1), moved to logit
    # l = 2 x_cf: P(y_cf = 1 | y = 1) = P(L > -l | L > -1) = sigmoid(l) / sigmoid(1) (= 1/e for l = -1),
    # and P(y_cf = 0 | y = 0) = P(L < -l | L < -1) = sigmoid(-l) / sigmoid(-1) for l = 3.
    n = 40000
    cf = cp.counterfactual(two_categories, {"x": 0.5, "y": observed}, {"x": x_cf}, num_samples=n, seed=0)
    assert cf.attrs["abduction"] == "exact"
    assert np.all(fact_world(cf, "y") == observed)
    share = float((cf_world(cf, "y") == observed).mean())
    assert share == pytest.approx(expected, abs=5 * math.sqrt(expected * (1 - expected) / n))


@pytest.mark.parametrize(
    "law, value",
    [
        (lambda x: dist.Categorical(logits=torch.stack([x, -x, x**2], -1)), 2),
        (lambda x: dist.OneHotCategorical(logits=torch.stack([x, -x, x**2], -1)), torch.tensor([0.0, 1.0, 0.0])),
        (lambda x: dist.Bernoulli(logits=3 * x), 0.0),
    ],
    ids=["categorical", "one_hot", "bernoulli"],
)
def test_gumbel_max_reproduces_the_factual_category(law, value):
    # Under a null intervention, or one that sets x to its factual value, every posterior draw of
    # the Gumbel noise gives back the observed category.
    model = scale_family(law)
    for do in ({}, {"x": 0.4}):
        cf = cp.counterfactual(model, {"x": 0.4, "y": value}, do, num_samples=500, seed=0)
        assert np.array_equal(cf_world(cf, "y"), fact_world(cf, "y"))
        assert np.all(fact_world(cf, "y") == np.asarray(value))
