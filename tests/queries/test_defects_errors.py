"""Input that used to be accepted silently or fail with a raw error: values outside a site's
support, errors re-raised by Pyro's machinery, unchecked arguments, models that are not
programs or not vectorised, and surprises such as a fixed default seed."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import SVI, Predictive, Trace_ELBO

import causalppl as cp
from causalppl.errors import EvidenceError, UnknownSiteError


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(x, 1.0))


def lognormal():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("w", dist.LogNormal(x, 1.0))


def uniform():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Uniform(x, x + 1.0))


def category():
    c = pyro.sample("c", dist.Categorical(logits=torch.zeros(3)))
    return pyro.sample("y", dist.Normal(c.to(torch.get_default_dtype()), 1.0))


def coin():
    b = pyro.sample("b", dist.Bernoulli(0.3))
    # Category 1 of y is impossible when b = 0 (logit -inf), certain-ish when b = 1.
    logits = torch.stack([torch.zeros_like(b), torch.where(b > 0, 0.0, -math.inf)], -1)
    return pyro.sample("y", dist.Categorical(logits=logits))


def exponential():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("e", dist.Exponential(x.exp()))


def _cf(m, evidence, do):
    return lambda: cp.counterfactual(m, evidence, do, num_samples=3)


# -- values outside a site's support -----------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, match",
    [
        (_cf(lognormal, {"x": 0.0, "w": -1.0}, {"x": 1.0}), EvidenceError, "'w' is outside the support"),
        (_cf(exponential, {"x": 0.0, "e": -1.0}, {"x": 1.0}), EvidenceError, "'e' is outside the support"),
        (_cf(uniform, {"x": 0.0, "y": 5.0}, {"x": 1.0}), EvidenceError, "(?s)'y' is impossible .* 100.0% of the units"),
        (_cf(uniform, {"x": torch.zeros(4), "y": torch.tensor([0.5, 5.0, 0.2, 0.1])}, {"x": 1.0}), EvidenceError, "25"),
        (_cf(coin, {"b": 0.0, "y": 1}, {"b": 1.0}), EvidenceError, "'y' is impossible"),
        (_cf(category, {"c": 1.5, "y": 0.0}, {"c": 0}), EvidenceError, "'c' must be a whole number"),
        (lambda: cp.sample(category, 3, do={"c": 7}), cp.CausalError, "'c' is outside the support"),
        (_cf(category, {"c": 1, "y": 0.0}, {"c": -1}), cp.CausalError, "'c' is outside the support"),
        (lambda: cp.effect(category, "y", {"c": 3}, {"c": 0}), cp.CausalError, "'c' is outside the support"),
        (lambda: cp.sample(coin, 3, do={"b": 3.0}), cp.CausalError, "'b' is outside the support"),
        (lambda: cp.sample(coin, 3, do={"b": lambda b: b + 2}), cp.CausalError, "'b' is outside the support"),
        (lambda: cp.sample(lognormal, 3, do={"w": 0.0}), cp.CausalError, "'w' is outside the support"),
        (lambda: cp.condition(cp.do(model, {"x": 2.0}), {"x": 1.0})(), cp.CausalError, "'x' is set by an intervention"),
        (lambda: cp.do(cp.condition(model, {"x": 1.0}), {"x": 2.0})(), cp.CausalError, "'x' is observed"),
    ],
)
def test_values_outside_the_support_are_refused(call, error, match):
    # Regression: NaN counterfactuals, extrapolated supports, categories that do not exist, and an
    # observation silently overriding an intervention (or the reverse) were all accepted.
    with pytest.raises(error, match=match):
        call()


def test_values_inside_the_support_keep_working():
    # The control: on the support the same models answer in closed form.
    cf = cp.counterfactual(uniform, {"x": 0.0, "y": 0.25}, {"x": 1.0}, num_samples=2)
    assert np.allclose(cf.y.sel(world="counterfactual"), 1.25)  # y = x + U, U = 0.25
    cf = cp.counterfactual(lognormal, {"x": 0.0, "w": 2.0}, {"x": 1.0}, num_samples=2)
    assert np.allclose(cf.w.sel(world="counterfactual"), 2.0 * math.e)  # w = exp(x + u)
    with pytest.raises(EvidenceError, match="'y' is outside the support"):
        cp.condition(uniform, {"x": 0.0, "y": 5.0})()  # as a handler, too


@pytest.mark.parametrize(
    "law", [lambda b: dist.Bernoulli(b), lambda b: dist.Categorical(torch.stack([1 - b, b], -1))], ids=["bern", "cat"]
)
def test_zero_probability_evidence_written_with_probs_is_refused(law):
    def m():
        b = pyro.sample("b", dist.Bernoulli(0.5))
        return pyro.sample("y", law(b))  # y = b exactly

    with pytest.raises(EvidenceError, match="'y'"):
        cp.counterfactual(m, {"b": 0.0, "y": 1}, {"b": 1.0}, num_samples=2)


# -- errors keep their type through Pyro's machinery -------------------------------------------
def _guide():
    pyro.sample("x", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))


@pytest.mark.parametrize(
    "run",
    [
        lambda m: poutine.trace(m).get_trace(),
        lambda m: SVI(m, _guide, pyro.optim.Adam({"lr": 0.1}), Trace_ELBO()).step(),
        lambda m: Predictive(m, num_samples=3)(),
        lambda m: pyro.infer.TraceEnum_ELBO(max_plate_nesting=0).loss(m, _guide),
    ],
    ids=["trace", "svi", "predictive", "enum"],
)
@pytest.mark.parametrize("handler", [lambda: cp.do(model, {"z": 1.0}), lambda: cp.condition(model, {"z": 1.0})])
def test_misspelled_site_errors_survive_pyro_machinery(run, handler):
    # Regression: Pyro re-raises errors as type(e)(message): UnknownSiteError could not be rebuilt.
    with pytest.raises(UnknownSiteError, match=r"'z' is never sampled.*'x', 'y'"):
        run(handler())


def test_support_errors_survive_pyro_machinery():
    # Regression, support errors too: poutine.trace re-raises the named error, with its type.
    with pytest.raises(EvidenceError, match="'w' is outside the support"):
        poutine.trace(cp.condition(lognormal, {"w": -1.0})).get_trace()
    with pytest.raises(cp.CausalError, match="'w' is outside the support"):
        Predictive(cp.do(lognormal, {"w": -1.0}), num_samples=2)()


# -- optimiser and inference arguments ---------------------------------------------------------
DATA = {"x": torch.linspace(-2, 2, 40), "y": torch.linspace(-2, 2, 40) ** 2}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"clip_norm": -1.0}, "clip_norm"),
        ({"clip_norm": math.inf}, "clip_norm"),
        ({"min_lr_ratio": -1.0}, "min_lr_ratio"),
        ({"min_lr_ratio": 2.0}, "min_lr_ratio"),
        ({"eval_every": -1}, "eval_every"),
        ({"eval_every": 0}, "eval_every"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"seed": "a"}, "seed"),
    ],
)
def test_fit_checks_optimiser_arguments(kwargs, match):
    # Regression: these reached torch (or nothing) unchecked.
    scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
    with pytest.raises(cp.CausalError, match=match):
        cp.fit(scm, DATA, steps=2, progress=False, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"abduction": "svi", "svi_steps": 0}, "svi_steps"),
        ({"abduction": "svi", "svi_steps": 1.5}, "svi_steps"),
        ({"abduction": "svi", "svi_lr": -1.0}, "svi_lr"),
        ({"abduction": "svi", "svi_lr": math.nan}, "svi_lr"),
        ({"num_particles": 0}, "num_particles"),
        ({"num_particles": True}, "num_particles"),
    ],
)
def test_counterfactual_checks_inference_arguments(kwargs, match):
    # Regression: svi_steps=0 ran no step and answered; num_particles=0 resampled from nothing.
    with pytest.raises(cp.CausalError, match=match):
        cp.counterfactual(model, {"y": 1.0}, {"x": 0.0}, num_samples=2, **kwargs)


# -- raw errors and vague messages -------------------------------------------------------------
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cp.graph(42), "model must be a Pyro program"),
        (lambda: cp.sample("model", 3), "model must be a Pyro program"),
        (lambda: cp.counterfactual(None, {"x": 1.0}, {"x": 0.0}), "model must be a Pyro program"),
        (lambda: cp.effect(42, "y", {"x": 1.0}), "model must be a Pyro program"),
        (lambda: cp.effect(model, "y", {"x": 1.0}, num_samples=0), "num_samples must be a positive int, got 0"),
        (lambda: cp.effect(model, "y", {"x": 1.0}, num_samples=-3), "num_samples must be a positive int, got -3"),
        (lambda: cp.effect(model, "y", {"x": 1.0}, num_samples=10.5), "num_samples must be a positive int, got 10.5"),
        (lambda: cp.sample(model, True), "num_samples must be a positive int, got True"),
        (lambda: cp.sample(model, 3, do=1.0), "do must be a dict"),
        (lambda: cp.effect(model, "y", do=1.0), "do must be a dict"),
        (lambda: cp.counterfactual(model, {"x": 1.0}, do=1.0), "do must be a dict"),
        (lambda: cp.sample(model, 3, seed="a"), "seed must be None or a non-negative int, got 'a'"),
        (lambda: cp.counterfactual(model, {"x": 1.0}, {}, seed=1.5), "seed"),
        (lambda: cp.effect(model, "y", {"x": 1.0}, seed=True), "seed"),
        (_cf(category, {"c": 5, "y": 0.0}, {"c": 0}), "'c' is outside the support"),
        (_cf(category, {"c": -1, "y": 0.0}, {"c": 0}), "'c' is outside the support"),
    ],
)
def test_bad_arguments_raise_named_errors(call, match):
    # Regression: TypeErrors from deep inside, ZeroDivisionError, num_samples=10.5 accepted, and
    # Gumbel-max evidence errors that did not say which site.
    with pytest.raises(cp.CausalError, match=match):
        call()


# -- surprises --------------------------------------------------------------------------------
def test_queries_draw_fresh_randomness_unless_seeded():
    # Regression: queries defaulted to seed=0, so a loop of calls returned identical draws.
    runs = [
        lambda **seed: float(cp.sample(model, 2, **seed).x[0]),
        lambda **seed: float(cp.counterfactual(model, {"y": 1.0}, {"x": 0.0}, num_samples=2, **seed).x[0, 0]),
        lambda **seed: cp.effect(model, "y", {"x": lambda x: x**2}, num_samples=10, **seed),
    ]
    for run in runs:
        assert len({run() for _ in range(3)}) == 3  # the default
        assert len({run(seed=7) for _ in range(3)}) == 1


def branching():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    if x > 0:  # Python control flow on a sampled value: one unit only
        return pyro.sample("y", dist.Normal(x, 1.0))
    return pyro.sample("y", dist.Normal(-x, 1.0))


def stacked():
    x = pyro.sample("x", dist.Normal(torch.zeros(3), 1.0).to_event(1))
    return pyro.sample("y", dist.Normal(torch.stack([x.sum(-1), x.sum(-1)]), 1.0).to_event(1))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cp.sample(branching, 3), "after site 'x'.*Python `if`.*torch.where"),
        (_cf(branching, {"x": 1.0, "y": 1.0}, {"x": -1.0}), "after site 'x'.*Python `if`"),
        (lambda: cp.effect(branching, "y", {"x": 1.0}), "after site 'x'.*vectorised"),
        (lambda: cp.sample(stacked, 4), "after site 'y'.*broadcast"),
    ],
)
def test_models_that_do_not_vectorise_are_named(call, match):
    # Regression: "ambiguous boolean" and shape errors surfaced raw, naming no site.
    with pytest.raises(cp.CausalError, match=match):
        call()


def test_effect_refuses_an_outcome_that_is_not_one_number_per_unit():
    # Regression: an outcome inside a plate was averaged silently, a vector outcome failed raw.
    def plated():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        with pyro.plate("items", 3):
            return pyro.sample("y", dist.Normal(x, 1.0))

    def vector():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.Normal(x * torch.ones(3), 1.0).to_event(1))

    scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,), mechanisms={"y": {"kind": "additive", "dim": 2}})
    for m, where in [(plated, "sits in plate"), (vector, "has 1 event dim"), (scm, "has 1 event dim")]:
        with pytest.raises(cp.CausalError, match=f"outcome 'y' {where}.*one number per unit"):
            cp.effect(m, "y", {"x": 1.0}, {"x": 0.0}, num_samples=10)
