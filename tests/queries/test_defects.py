"""Answers that used to be wrong: functional interventions, observations inside the model,
parent-dependent noise laws, abduction through latent supports and deterministic sites, and
extrapolation reported as such. Each test states the closed form it checks against."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from scipy.stats import norm

import causalppl as cp
from causalppl.testing.analytic import linear_gaussian_counterfactual

A, B, C = 0.5, 0.7, 0.4  # Pearl's x -> h -> y, x -> y (tests/queries/test_analytic.py)
W = np.array([[0, A, B], [0, 0, C], [0, 0, 0]], dtype=float)


def square():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(x**2, 1.0))


def mediated():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(x, 1.0))
    return pyro.sample("y", dist.Normal(h**2, 0.1))


def pearl(y_obs=None):
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(A * x, 1.0))
    return pyro.sample("y", dist.Normal(B * x + C * h, 1.0), obs=y_obs)


def _world(ds, site, world):
    return ds[site].sel(world=world).values


# -- functional interventions: one natural draw per unit and sample -----------------------------
def test_functional_do_draws_each_unit_afresh_on_roots_and_mediators():
    # Regression: a callable on a root was applied to ONE natural draw shared by every sample.
    # x := 2x gives x ~ N(0, 4) and E[y] = E[4 x^2] = 4 (sd of the mean of y: sqrt(33 / 40000) = 0.03).
    ds = cp.sample(square, 40000, do={"x": lambda x: 2 * x}, seed=0)
    assert float(ds.x.std()) == pytest.approx(2.0, rel=0.02)
    assert float(ds.y.mean()) == pytest.approx(4.0, abs=0.15)
    # Mediator h ~ N(x, 1), h := h + 1: sd(h) = sqrt(2), E[y] = Var(h) + 1 = 3.
    med = cp.sample(mediated, 40000, do={"h": lambda h: h + 1.0}, seed=1)
    assert float(med.h.std()) == pytest.approx(math.sqrt(2.0), rel=0.02)
    assert float(med.y.mean()) == pytest.approx(3.0, abs=0.1)
    # Paired worlds: E[y | do(x := 2x)] - E[y] = E[3 x^2] = 3 (sd of the mean: 3 sqrt(2) / 200 = 0.02).
    assert cp.effect(square, "y", do={"x": lambda x: 2 * x}, num_samples=40000, seed=2) == pytest.approx(3.0, abs=0.1)
    # A counterfactual acts on each unit's own factual x; here every sample of x is a prior draw.
    cf = cp.counterfactual(square, {}, {"x": lambda x: 2 * x}, num_samples=20000, seed=3)
    assert np.array_equal(_world(cf, "x", "counterfactual"), 2 * _world(cf, "x", "factual"))
    assert _world(cf, "x", "factual").std() == pytest.approx(1.0, rel=0.03)


def test_functional_do_inside_plates_gives_each_unit_its_own_draw():
    # Regression, inside plates: the model's own plate, and a user's plate around cp.do.
    def items():
        with pyro.plate("items", 3):
            x = pyro.sample("x", dist.Normal(0.0, 1.0))
            return pyro.sample("y", dist.Normal(x**2, 1.0))

    ds = cp.sample(items, 20000, do={"x": lambda x: 2 * x}, seed=0)
    x = ds.x.transpose("sample", "items").values
    assert np.allclose(x.std(0), 2.0, rtol=0.03)  # every item varies over samples ...
    assert np.all(x[:, 0] != x[:, 1])  # ... and items differ within a sample
    assert np.allclose(ds.y.mean("sample"), 4.0, atol=0.25)

    torch.manual_seed(0)
    with pyro.poutine.trace() as tr, pyro.plate("unit", 20000):
        cp.do(square, {"x": lambda x: 2 * x})()
    assert float(tr.trace.nodes["x"]["value"].std()) == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("path", ["batched", "pyro"])
def test_functional_do_on_a_neural_scm_root(path):
    # Regression on NeuralSCM roots, through its batched paths and as a plain Pyro program.
    torch.manual_seed(0)
    scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
    model = scm if path == "batched" else (lambda: scm())
    natural = cp.sample(model, 20000, seed=0).x.std()
    doubled = cp.sample(model, 20000, do={"x": lambda x: 2 * x}, seed=1).x.std()
    assert float(doubled / natural) == pytest.approx(2.0, rel=0.05)  # sample sds: ~0.5% error each


def test_functional_do_on_a_neural_scm_raises_no_torch_warning():
    scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
    was = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch gives this warning once per process otherwise
    try:
        cp.sample(scm, 10, do={"x": lambda x: x + 0.1}, seed=0)  # warnings are errors in this suite
    finally:
        torch.set_warn_always(was)


# -- observations inside the model inform abduction ------------------------------------------
def _pearl_closed_form(evidence, do):
    idx = {"x": 0, "h": 1, "y": 2}
    mean, cov = linear_gaussian_counterfactual(
        W, {idx[k]: v for k, v in evidence.items()}, {idx[k]: v for k, v in do.items()}
    )
    return mean[2], math.sqrt(max(cov[2, 2], 0.0))


@pytest.mark.parametrize("observed_by", ["condition", "obs"])
def test_in_model_observation_informs_the_latent_posterior(observed_by):
    # Regression: y observed inside the model (cp.condition or obs=) was ignored; h came from its
    # prior, labelled "exact" (mean 1.407). The answer is what evidence {x: .5, y: 1.5} gives.
    mean, sd = _pearl_closed_form({"x": 0.5, "y": 1.5}, {"h": 0.0})  # 1.2552, 0.3714
    if observed_by == "condition":
        model, kwargs = cp.condition(pearl, {"y": 1.5}), {}
    else:
        model, kwargs = pearl, {"y_obs": torch.tensor(1.5)}
    cf = cp.counterfactual(model, {"x": 0.5}, {"h": 0.0}, num_samples=20000, seed=0, model_kwargs=kwargs)
    assert cf.attrs["abduction"] == "importance"
    assert np.all(_world(cf, "y", "factual") == 1.5)
    y = _world(cf, "y", "counterfactual")
    # The posterior is close to the prior (ESS ~ 90% of 400,000 particles): mean error ~ 0.003.
    assert y.mean() == pytest.approx(mean, abs=0.02)
    assert y.std() == pytest.approx(sd, abs=0.02)
    # With h given too, every noise is recovered from values: y = 0.7 x + 0.4 h + u, so y_cf = 1.9.
    cf = cp.counterfactual(model, {"x": 0.5, "h": 1.0}, {"h": 2.0}, num_samples=5, model_kwargs=kwargs)
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(_world(cf, "y", "counterfactual"), 1.9, atol=1e-12)


# -- noise laws that depend on the parents -----------------------------------------------------
def student(df_of):
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.StudentT(df_of(x), 2.0 * x, 1.0))

    return model


def gamma_shape():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Gamma(1.0 + x.exp(), 1.0))


@pytest.mark.parametrize(
    "model, match",
    [(student(lambda x: 1 + torch.exp(3 * x)), "StudentT whose degrees of freedom"), (gamma_shape, "concentration")],
)
def test_parent_dependent_shape_has_no_counterfactual(model, match):
    # Regression: the counterfactual world kept the factual df; now a named error.
    with pytest.raises(cp.errors.UnsupportedDistributionError, match=rf"'y'.*{match}.*differ"):
        cp.counterfactual(model, {"x": 0.0, "y": 1.0}, {"x": 1.0}, num_samples=3)


def test_parent_dependent_shape_effect_falls_back_to_unpaired_runs():
    # Regression: cp.effect failed with a raw expand error. E[y | do(x)] = 2x for StudentT(3 + e^x, 2x, 1)
    # (variance df / (df - 2) <= 2: the mean's sd is under 0.01 per arm); E[Gamma(1 + e^x, 1)] = 1 + e^x.
    got = cp.effect(student(lambda x: 3 + x.exp()), "y", {"x": 1.0}, {"x": 0.0}, num_samples=40000, seed=0)
    assert got == pytest.approx(2.0, abs=0.05)
    got = cp.effect(gamma_shape, "y", {"x": 1.0}, {"x": 0.0}, num_samples=40000, seed=0)
    assert got == pytest.approx(math.e - 1.0, abs=0.06)  # Var <= 1 + e per arm: sd of the difference 0.013


# -- abduction through latent supports and deterministic sites --------------------------------
def test_importance_abduction_with_a_support_set_by_a_latent_parent():
    # Regression: y ~ Uniform(h - 1, h + 1) with y = 0.5 observed was refused. The posterior of h is
    # N(0, 1) truncated to [-0.5, 1.5] (mean 0.3563, sd 0.5294); y_cf under do(h=0) is 0.5 - h.
    def model():
        h = pyro.sample("h", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Uniform(h - 1.0, h + 1.0))

    cf = cp.counterfactual(model, {"y": 0.5}, {"h": 0.0}, num_samples=20000, seed=0)
    h, y_cf = _world(cf, "h", "factual"), _world(cf, "y", "counterfactual")
    assert cf.attrs["abduction"] == "importance"
    assert h.min() >= -0.5 and h.max() <= 1.5
    a, b = -0.5, 1.5
    mean = (norm.pdf(a) - norm.pdf(b)) / (norm.cdf(b) - norm.cdf(a))
    assert h.mean() == pytest.approx(mean, abs=0.02)  # sd of the mean 0.5294 / sqrt(20000) = 0.004
    assert np.allclose(y_cf, 0.5 - h, atol=1e-12)


def test_evidence_on_a_deterministic_site_pins_its_latent_parent():
    # Regression: d = h^3 observed at 8 fixes h = 2 (was "differs from its mechanism"). do(x=0) with x = .5
    # observed: h = x + u with u = 1.5, so h_cf = 1.5 and d_cf = 3.375.
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        h = pyro.sample("h", dist.Normal(x, 1.0))
        return pyro.deterministic("d", h**3)

    cf = cp.counterfactual(model, {"x": 0.5, "d": 8.0}, {"x": 0.0}, num_samples=4)
    assert cf.attrs["abduction"] == "exact"
    assert np.allclose(_world(cf, "h", "factual"), 2.0) and np.allclose(_world(cf, "h", "counterfactual"), 1.5)
    assert np.allclose(_world(cf, "d", "counterfactual"), 3.375)


@pytest.mark.parametrize("noise_name, push", [("u", lambda u: u), ("u_y", torch.sinh)])
def test_explicit_noise_is_solved_exactly(noise_name, push):
    # Regression: u ~ N(0, 1); y = deterministic(2x + g(u)) is inverted for u: y_cf = y - 2 x + 2 x_cf.
    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        u = pyro.sample(noise_name, dist.Normal(0.0, 1.0))
        return pyro.deterministic("y", 2 * x + push(u))

    ev = {"x": torch.tensor([0.5, -1.0]), "y": torch.tensor([1.7, 3.0])}
    cf = cp.counterfactual(model, ev, {"x": 0.0}, num_samples=3)
    assert cf.attrs["abduction"] == "exact" and noise_name not in cf  # explicit noise is exogenous
    assert np.allclose(_world(cf, "y", "counterfactual"), [0.7, 5.0], atol=1e-9)


# -- extrapolation is reported, not presented as fact -----------------------------------------
def tanh_scm():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(torch.tanh(1.5 * x), 0.3))
    return pyro.sample("y", dist.Normal(2 * h - x, 0.3))


def test_extrapolation_is_reported_and_warned():
    # Regression: do(h=1) puts units where h's own law given x almost never goes: |1 - tanh(1.5x)| >
    # 2.576 * 0.3, i.e. x < atanh(1 - 0.7728) / 1.5, a share Phi(0.1541) = 0.5613 of the units.
    share = norm.cdf(math.atanh(1 - 2.576 * 0.3) / 1.5)
    torch.manual_seed(0)
    units = {"x": torch.randn(4000)}
    with pytest.warns(cp.CausalWarning, match=r"'h' for \d+%") as caught:
        cf = cp.counterfactual(tanh_scm, units, {"h": 1.0}, num_samples=2, seed=0)
    assert len(caught) == 1
    assert cf.attrs["extrapolation_h"] == pytest.approx(share, abs=0.04)  # binomial sd over 4000 units: 0.008
    with pytest.warns(cp.CausalWarning, match="'h'"):
        cp.effect(tanh_scm, "y", {"h": 1.0}, {"h": 0.0}, num_samples=4000, seed=0)
    # Within the support: a small shift of h, or any value of a root, is not an extrapolation.
    shifted = cp.counterfactual(tanh_scm, units, {"h": lambda h: h + 0.05, "x": 0.0}, num_samples=2, seed=0)
    assert shifted.attrs["extrapolation_h"] < 0.05 and "extrapolation_x" not in shifted.attrs
