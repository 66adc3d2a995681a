"""Causal structure against closed forms: deterministic sites and explicit noise, observations
inside the model, functional interventions on roots and mediators, confounded effects (what
do-calculus gives, not the conditional difference), and partial evidence against the exact
Gaussian posterior with each abduction method.

Monte Carlo tolerances are about five standard errors of the estimate (stated per check);
exact answers are checked to rounding error."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl.testing.analytic import linear_gaussian_counterfactual, linear_gaussian_interventional

N = 20000

# Closed forms hold wherever an intervention puts units; the extrapolation warning (tested in
# tests/queries/test_overlap.py) is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")


def cf_world(ds, site):
    return ds[site].sel(world="counterfactual").values


def linear_scm(weights, noise_sd, names):
    """The linear-Gaussian SCM of :mod:`causalppl.testing.analytic` as a Pyro program."""

    def model():
        values = {}
        for j, name in enumerate(names):
            loc = sum(weights[i][j] * values[names[i]] for i in range(j) if weights[i][j])
            values[name] = pyro.sample(name, dist.Normal(0.0 + loc, noise_sd[j]))
        return values

    return model


# -- deterministic sites and explicit noise ------------------------------------------------------
def explicit():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    u_y = pyro.sample("u_y", dist.Normal(0.0, 1.0))
    return pyro.deterministic("y", 2 * x + u_y)


def squared_mediator():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    d = pyro.deterministic("d", x**2)
    return pyro.sample("y", dist.Normal(d, 1.0))


def test_explicit_noise_under_every_query():
    ds = cp.sample(explicit, N, do={"x": 1.0}, seed=0)
    assert "u_y" not in ds  # noise is exogenous, not a variable of the result
    assert float(ds.y.mean()) == pytest.approx(2.0, abs=0.04)  # sd 1: se 0.007
    assert float(ds.y.var()) == pytest.approx(1.0, rel=0.05)  # se of a variance: sqrt(2 / N) = 1%
    cf = cp.counterfactual(explicit, {"x": torch.tensor([0.5, -1.0]), "y": torch.tensor([2.0, 0.0])}, {"x": 1.0})
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(cf_world(cf, "y"), [3.0, 4.0], atol=1e-9)  # y + 2 (x_cf - x)
    assert cp.effect(explicit, "y", {"x": 1.0}, {"x": -1.0}, num_samples=10) == pytest.approx(4.0, abs=1e-12)


def test_deterministic_mediator():
    # Paired worlds share y's noise: y(do x=2) - y(do x=0) = 4 exactly; do(d=3) cuts x off.
    assert cp.effect(squared_mediator, "y", {"x": 2.0}, {"x": 0.0}, num_samples=10) == pytest.approx(4.0, abs=1e-12)
    assert cp.effect(squared_mediator, "y", {"d": 3.0}, {"d": 0.0}, num_samples=10) == pytest.approx(3.0, abs=1e-12)
    cf = cp.counterfactual(squared_mediator, {"x": 1.5, "y": 2.0}, {"x": 0.5}, num_samples=2)
    assert np.allclose(cf_world(cf, "d"), 0.25) and np.allclose(cf_world(cf, "y"), 2.0 - 2.25 + 0.25)
    ds = cp.sample(squared_mediator, N, do={"d": lambda d: d + 1.0}, seed=0)
    assert float(ds.y.mean()) == pytest.approx(2.0, abs=0.06)  # E[x^2 + 1]; var(y) = 2 + 1: se 0.012


def test_hard_intervention_on_a_deterministic_site_in_a_plate():
    ds = cp.sample(squared_mediator, N, do={"d": 3.0}, seed=0)
    assert np.all(ds.d.values == 3.0) and float(ds.y.mean()) == pytest.approx(3.0, abs=0.04)


# -- observations inside the model -----------------------------------------------------------
A, B, C = 0.5, 0.7, 0.4
PEARL = [[0, A, B], [0, 0, C], [0, 0, 0]]


def test_in_model_observation_equals_evidence():
    # y observed by the model; h given as evidence; do(x = 1): the closed form of evidence {h, y}.
    pearl = cp.condition(linear_scm(PEARL, [1.0] * 3, ["x", "h", "y"]), {"y": -1.0})
    mean, cov = linear_gaussian_counterfactual(PEARL, {1: 0.3, 2: -1.0}, {0: 1.0})
    cf = cp.counterfactual(pearl, {"h": 0.3}, {"x": 1.0}, num_samples=N, seed=0)
    assert cf.attrs["abduction"] == "importance"
    y = cf_world(cf, "y")
    # Posterior sd of y_cf is 0.52 and the prior proposal has ESS > 0.3 of 400,000: se < 0.005.
    assert y.mean() == pytest.approx(mean[2], abs=0.025)
    assert y.std() == pytest.approx(math.sqrt(cov[2, 2]), abs=0.025)


# -- functional interventions -------------------------------------------------------------------
def chain():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(x, 1.0))
    return pyro.sample("y", dist.Normal(h + x, 0.5))


@pytest.mark.parametrize(
    "do, mean, var",
    [
        ({"x": lambda x: x + 1.0}, 2.0, 5.25),  # y = 2x + e_h + e_y with x shifted: mean 2, var 4 + 1 + .25
        ({"h": lambda h: 2.0 * h}, 0.0, 13.25),  # y = 3x + 2 e_h + e_y: var 9 + 4 + .25
        ({"x": lambda x: -x, "h": lambda h: h + 1.0}, 1.0, 5.25),  # nested through the graph
    ],
    ids=["root", "mediator", "both"],
)
def test_functional_interventions_on_roots_and_mediators(do, mean, var):
    ds = cp.sample(chain, N, do=do, seed=0)
    # se of the mean sqrt(var / N) <= 0.026; of the variance var sqrt(2 / N) = 1%.
    assert float(ds.y.mean()) == pytest.approx(mean, abs=0.13)
    assert float(ds.y.var()) == pytest.approx(var, rel=0.05)
    # Paired worlds against no intervention: the difference is the mean shift, up to the noise the
    # shift multiplies (E[y_do - y] = mean).
    assert cp.effect(chain, "y", do, num_samples=N, seed=1) == pytest.approx(mean, abs=0.13)


def test_functional_counterfactual_acts_on_each_units_factual_value():
    ev = {"x": torch.tensor([0.5, -1.0]), "h": torch.tensor([1.0, 0.0]), "y": torch.tensor([1.0, -2.0])}
    cf = cp.counterfactual(chain, ev, {"h": lambda h: 2.0 * h}, num_samples=2)
    assert np.allclose(cf_world(cf, "h"), [2.0, 0.0]) and np.allclose(cf_world(cf, "y"), [2.0, -2.0])
    cf = cp.counterfactual(chain, ev, {"x": lambda x: x + 1.0}, num_samples=2)
    # x + 1 moves h by 1 (its noise is kept) and y by 1 + 1.
    assert np.allclose(cf_world(cf, "h"), [2.0, 1.0]) and np.allclose(cf_world(cf, "y"), [3.0, 0.0])


# -- confounding: doing, not seeing ------------------------------------------------------------
def confounded():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    t = pyro.sample("t", dist.Normal(z, 1.0))
    return pyro.sample("y", dist.Normal(2.0 * t + 3.0 * z + t * z, 1.0))


def binary_confounded():
    z = pyro.sample("z", dist.Bernoulli(0.5))
    t = pyro.sample("t", dist.Bernoulli(0.2 + 0.6 * z))
    return pyro.sample("y", dist.Normal(t + 2.0 * z, 1.0))


def test_confounded_effect_is_do_calculus():
    # E[y | do(t)] = 2t + 3 E[z] + t E[z] = 2t, while E[y | t] = 2t + (3 + t) t / 2.
    # Paired: y1 - y0 = 2 + z, sd 1: se 0.007.
    assert cp.effect(confounded, "y", {"t": 1.0}, {"t": 0.0}, num_samples=N, seed=0) == pytest.approx(2.0, abs=0.04)
    ds = cp.sample(confounded, N, do={"t": 1.0}, seed=1)
    assert float(ds.y.mean()) == pytest.approx(2.0, abs=0.15)  # var(3z + z + e) = 17: se 0.03
    # Binary: the effect is 1, the conditional difference 1 + 2 (P(z | t=1) - P(z | t=0)) = 2.2.
    assert cp.effect(binary_confounded, "y", {"t": 1.0}, {"t": 0.0}, num_samples=10) == pytest.approx(1.0, abs=1e-12)
    obs = cp.sample(binary_confounded, 40000, seed=2)
    t, y = obs.t.values, obs.y.values
    seeing = y[t == 1].mean() - y[t == 0].mean()
    assert seeing == pytest.approx(2.2, abs=0.06)  # Var(y | t) = 1.64 over ~20,000 units per arm: se 0.013


# -- partial evidence against the exact Gaussian posterior ----------------------------------------
DIAMOND = [[0, 0.8, 0, 0.5], [0, 0, 1.2, 0], [0, 0, 0, -0.7], [0, 0, 0, 0]]  # a -> b -> c -> d, a -> d
SDS = [1.0, 0.5, 1.0, 0.8]
NAMES = ["a", "b", "c", "d"]


def _check_against_gaussian(cf, evidence, do, tol):
    index = NAMES.index
    mean, cov = linear_gaussian_counterfactual(
        DIAMOND, {index(k): v for k, v in evidence.items()}, {index(k): v for k, v in do.items()}, noise_sd=SDS
    )
    for name in NAMES:
        got = cf_world(cf, name)
        i = index(name)
        assert got.mean() == pytest.approx(mean[i], abs=tol), name
        assert got.std() == pytest.approx(math.sqrt(max(cov[i, i], 0.0)), abs=tol), name


def test_interventional_means_match_closed_form():
    mean, cov = linear_gaussian_interventional(DIAMOND, noise_sd=SDS, do={1: 1.0})
    ds = cp.sample(linear_scm(DIAMOND, SDS, NAMES), N, do={"b": 1.0}, seed=0)
    for i, name in enumerate(NAMES):  # sds <= 1.2: se of a mean <= 0.009, of an sd <= 0.006
        assert float(ds[name].mean()) == pytest.approx(mean[i], abs=0.045), name
        assert float(ds[name].std()) == pytest.approx(math.sqrt(cov[i, i]), abs=0.03), name


EVIDENCE, DO = {"c": 1.0, "d": -0.5}, {"b": 0.0}


def test_partial_evidence_importance():
    model = linear_scm(DIAMOND, SDS, NAMES)
    cf = cp.counterfactual(model, EVIDENCE, DO, num_samples=N, seed=0, num_particles=400000)
    assert cf.attrs["abduction"] == "importance" and cf.attrs["ess_min"] > 20000
    # Posterior sds <= 1.1 with ESS > 20,000 and 20,000 resampled draws: se < 0.011.
    _check_against_gaussian(cf, EVIDENCE, DO, tol=0.05)


@pytest.mark.slow
def test_partial_evidence_svi():
    model = linear_scm(DIAMOND, SDS, NAMES)
    cf = cp.counterfactual(model, EVIDENCE, DO, num_samples=N, seed=0, abduction="svi", svi_steps=1500)
    assert cf.attrs["abduction"] == "svi"
    # The guide is a full-covariance Gaussian, so the posterior is in its family; what remains is
    # the optimiser's noise after Polyak averaging (a few hundredths) and the draws' se (0.008).
    _check_against_gaussian(cf, EVIDENCE, DO, tol=0.06)
