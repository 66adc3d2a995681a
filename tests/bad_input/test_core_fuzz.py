"""Bad pieces among good ones, drawn by hypothesis: a valid model, evidence and intervention
with one piece replaced by a bad value (outside a site's support, NaN, a string, a wrong
shape, an unknown site, a bad count or seed, a model that is not a program). Every query must
refuse it with a CausalError whose message names the culprit."""

import math
import re
import string

import pyro
import pyro.distributions as dist
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp


def rich():
    """One site per kind of support: real, positive, categories, {0, 1}, a vector."""
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    w = pyro.sample("w", dist.LogNormal(x, 1.0))
    c = pyro.sample("c", dist.Categorical(logits=torch.zeros(3)))
    b = pyro.sample("b", dist.Bernoulli(logits=x))
    v = pyro.sample("v", dist.Normal(x.unsqueeze(-1).expand(x.shape + (2,)), 1.0).to_event(1))
    loc = x + w.log() + c.to(x.dtype) + b + v.sum(-1)
    return pyro.sample("y", dist.Normal(loc, 1.0))


SITES = ["x", "w", "c", "b", "v", "y"]
EVIDENCE = {"x": 0.5, "w": 1.2, "c": 1, "b": 1.0, "v": [0.1, -0.2], "y": 0.3}
DO = {"x": -0.5, "w": 2.0, "c": 2, "b": 0.0, "v": [1.0, 1.0]}

NOT_A_NUMBER = hst.one_of(
    hst.sampled_from([math.nan, math.inf, -math.inf, None, [1.0, math.nan]]), hst.text(max_size=3)
)
WRONG_EVENT = hst.sampled_from([torch.zeros(1), torch.zeros(3), torch.zeros(2, 3)])
# Shapes no query dims can absorb (cp.effect takes (1, 2, 3) for its (world, sample) dims: a known gap).
WRONG_UNITS = hst.sampled_from([torch.ones(2, 2), torch.ones(3, 1), torch.ones(4, 5, 7)])  # for a scalar site
BAD = {
    "x": NOT_A_NUMBER,
    "y": NOT_A_NUMBER,
    "w": hst.one_of(NOT_A_NUMBER, hst.floats(max_value=0.0)),  # LogNormal: (0, inf)
    "c": hst.one_of(NOT_A_NUMBER, hst.integers(max_value=-1), hst.integers(min_value=3), hst.sampled_from([0.5, 1.25])),
    "b": hst.one_of(NOT_A_NUMBER, hst.integers(max_value=-1), hst.integers(min_value=2), hst.floats(0.01, 0.99)),
    "v": hst.one_of(NOT_A_NUMBER, WRONG_EVENT),
}
COUNT = hst.one_of(hst.integers(max_value=0), hst.floats(), hst.booleans(), hst.text(max_size=3), hst.none())
SEED = hst.one_of(hst.integers(max_value=-1), hst.integers(min_value=2**64), hst.floats(), hst.booleans(), hst.text())
NAME = hst.text(string.ascii_lowercase + "_", min_size=1, max_size=6).filter(lambda n: n not in SITES)


def counterfactual(**kw):
    return cp.counterfactual(
        **{"model": rich, "evidence": EVIDENCE, "do": {"x": -0.5}, "num_samples": 2, "seed": 0, **kw}
    )


def sample(**kw):
    return cp.sample(**{"model": rich, "num_samples": 3, "do": DO, "seed": 0, **kw})


def effect(**kw):
    return cp.effect(**{"model": rich, "outcome": "y", "do": {"x": 1.0}, "num_samples": 3, "seed": 0, **kw})


def _some(good: dict, data) -> dict:
    """A drawn subset of good values (the bad piece joins them)."""
    keep = data.draw(hst.lists(hst.sampled_from(sorted(good)), unique=True), label="good sites kept")
    return {k: good[k] for k in keep}


@given(data=hst.data(), site=hst.sampled_from(SITES))
def test_one_bad_site_value_among_good_ones_is_named(data, site):
    where = data.draw(hst.sampled_from(["evidence", "do", "sample do", "effect do", "effect baseline"]))
    shapes = site in ("x", "y", "w") and where != "sample do"  # cp.sample's do: see the known gaps
    bad = data.draw(hst.one_of(BAD[site], WRONG_UNITS) if shapes else BAD[site], label=f"bad value for {site}")
    if where == "evidence":
        call = lambda: counterfactual(evidence={**_some(EVIDENCE, data), site: bad})  # noqa: E731
    elif where == "do":
        call = lambda: counterfactual(do={**_some(DO, data), site: bad})  # noqa: E731
    elif where == "sample do":
        call = lambda: sample(do={**_some(DO, data), site: bad})  # noqa: E731
    else:
        arm = "do" if where == "effect do" else "baseline"
        call = lambda: effect(**{arm: {**_some(DO, data), site: bad}})  # noqa: E731
    with pytest.raises(cp.CausalError, match=f"'{site}'"):
        call()


ARGUMENTS = [
    (sample, "num_samples", COUNT),
    (sample, "seed", SEED),
    (counterfactual, "num_samples", COUNT),
    (counterfactual, "seed", SEED),
    (counterfactual, "abduction", hst.one_of(hst.text(max_size=8), hst.integers(), hst.none())),
    (counterfactual, "num_particles", COUNT.filter(lambda v: v is not None)),  # with evidence {"y"} below
    (effect, "num_samples", COUNT),
    (effect, "seed", SEED),
    (effect, "outcome", hst.one_of(hst.integers(), hst.floats(), hst.none(), NAME)),
    (sample, "do", hst.one_of(hst.floats(), hst.text(), hst.lists(hst.floats(), max_size=2))),
    (effect, "baseline", hst.one_of(hst.floats(), hst.text(min_size=1), hst.lists(hst.floats(), min_size=1))),
    (counterfactual, "evidence", hst.one_of(hst.floats(), hst.text(min_size=1), hst.lists(hst.floats(), min_size=1))),
]


@given(row=hst.sampled_from(ARGUMENTS), data=hst.data())
def test_one_bad_argument_among_good_ones_is_named(row, data):
    query, argument, values = row
    value = data.draw(values, label=f"bad {argument}")
    if argument == "abduction" and value in ("auto", "exact", "importance", "svi", "amortized"):
        return
    partial = {"evidence": {"y": 0.3}} if argument == "num_particles" else {}  # importance reads it
    with pytest.raises(cp.CausalError, match=rf"(?<!\w){argument}(?!\w)"):
        query(**partial, **{argument: value})


@given(data=hst.data(), name=NAME)
def test_an_unknown_site_among_good_ones_is_named(data, name):
    where = data.draw(hst.sampled_from(["evidence", "do", "sample do", "effect do"]))
    if where == "evidence":
        call = lambda: counterfactual(evidence={**_some(EVIDENCE, data), name: 1.0})  # noqa: E731
    elif where == "do":
        call = lambda: counterfactual(do={**_some(DO, data), name: 1.0})  # noqa: E731
    elif where == "sample do":
        call = lambda: sample(do={**_some(DO, data), name: 1.0})  # noqa: E731
    else:
        call = lambda: effect(do={**_some(DO, data), name: 1.0})  # noqa: E731
    with pytest.raises(cp.errors.UnknownSiteError, match=rf"'{re.escape(name)}' is never sampled.*'x', 'w', 'c'"):
        call()


@given(
    query=hst.sampled_from([sample, counterfactual, effect, lambda **kw: cp.graph(**kw)]),
    model=hst.one_of(hst.integers(), hst.text(), hst.none(), hst.lists(hst.integers(), max_size=2)),
)
def test_a_model_that_is_not_a_program_is_named(query, model):
    with pytest.raises(cp.CausalError, match="model must be a Pyro program"):
        query(model=model)
