"""Bad input to the core (graphs, handlers, queries, fitting, NeuralSCM, saved files, the
noise registry, the graph metrics): each case raises a CausalError (a ValueError) whose message
names the site or argument at fault."""

import functools

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl import datasets
from causalppl.models import DeepSCM


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(x, 1.0))


def rich():
    """One site per kind of support: real, positive, categories, {0, 1}, a vector."""
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    w = pyro.sample("w", dist.LogNormal(x, 1.0))
    c = pyro.sample("c", dist.Categorical(logits=torch.zeros(3)))
    b = pyro.sample("b", dist.Bernoulli(logits=x))
    v = pyro.sample("v", dist.Normal(x.unsqueeze(-1).expand(x.shape + (2,)), 1.0).to_event(1))
    loc = x + w.log() + c.to(x.dtype) + b + v.sum(-1)
    return pyro.sample("y", dist.Normal(loc, 1.0))


def items():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    with pyro.plate("items", 3):
        return pyro.sample("y", dist.Normal(x, 1.0))


def latent():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    t = pyro.sample("t", dist.Normal(z, 1.0))
    return pyro.sample("x", dist.Normal(z + t, 0.5))


def guide(x, t):
    with pyro.plate("unit", x.shape[0]):
        pyro.sample("z", dist.Normal(0.5 * x, 0.6))


def guide_observed(x, t):
    with pyro.plate("unit", x.shape[0]):
        pyro.sample("z", dist.Normal(0.5 * x, 0.6))
        pyro.sample("x", dist.Normal(0.0, 1.0))


def guide_nothing(x, t):
    pass


def do_run(actions, program=model):
    return cp.do(program, actions)()


def condition_run(data, program=model):
    return cp.condition(program, data)()


def twin_run(actions=None, evidence=None, dim=-1):
    return cp.twin_world(model, actions=actions, evidence=evidence, dim=dim)()


def counterfactual(**kw):
    return cp.counterfactual(**{"model": model, "evidence": {"x": 1.0}, "do": {"x": 0.0}, "num_samples": 2, **kw})


def effect(**kw):
    return cp.effect(**{"model": model, "outcome": "y", "do": {"x": 1.0}, "num_samples": 5, **kw})


def guided(**kw):
    ev = {"x": torch.tensor([1.0, 0.5]), "t": torch.tensor([0.2, 0.1])}
    return cp.counterfactual(**{"model": latent, "evidence": ev, "do": {"t": 0.0}, "guide": guide, **kw})


@functools.lru_cache(maxsize=1)
def _deep():
    md = datasets.morpho_digits(n=4, seed=0)
    return DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,), flow_hidden=(4,)), md.data


def deep_counterfactual(do=None, **changes):
    """A DeepSCM's amortised counterfactual, with pieces of valid evidence changed by ``changes``."""
    scm, data = _deep()
    ev = {k: (changes[k](v) if k in changes else v) for k, v in data.items() if changes.get(k, 1) is not None}
    return cp.counterfactual(scm, ev, do or {"thickness": 3.0}, guide=scm.guide, num_samples=1, seed=0)


def case(fn, match, **kwargs):
    return pytest.param(fn, kwargs, match, id=f"{getattr(fn, '__name__', 'call')}-{match}")


NAN, INF = float("nan"), float("inf")
CYCLE = {"a": ["b"], "b": ["a"]}
CASES = [
    # -- graph ---------------------------------------------------------------------------------
    case(cp.graph, "model must be a Pyro program", model=42),
    case(cp.graph, "before its first sample site.*unexpected keyword argument 'foo'", model=model, foo=1),
    # -- do ------------------------------------------------------------------------------------
    case(do_run, "actions must be a dict site -> value", actions=[("x", 1.0)]),
    case(do_run, "keyed by site names.*the key 1", actions={1: 1.0}),
    case(do_run, "intervention 'z' is never sampled.*'x', 'y'", actions={"z": 1.0}),
    case(do_run, "'x' contains NaN", actions={"x": NAN}),
    case(do_run, "'x' contains NaN or inf", actions={"x": torch.tensor([0.0, -INF])}),
    case(do_run, "'x' is not a number or tensor: 'a'", actions={"x": "a"}),
    case(do_run, "'x' must hold real numbers", actions={"x": torch.tensor(1j)}),
    case(do_run, "callable for site 'x' failed.*AttributeError", actions={"x": lambda x: x.nope}),
    case(do_run, "'x' is not a number or tensor", actions={"x": lambda x: "a"}),
    case(do_run, "'w' is outside the support", actions={"w": -1.0}, program=rich),
    case(do_run, "'c' must be a whole number", actions={"c": 1.5}, program=rich),
    case(do_run, "'b' is outside the support", actions={"b": 2.0}, program=rich),
    case(do_run, "'v' has shape \\(3,\\).*event shape \\(2,\\)", actions={"v": torch.zeros(3)}, program=rich),
    case(do_run, "'x' is observed", actions={"x": 2.0}, program=cp.condition(model, {"x": 1.0})),
    # -- condition -----------------------------------------------------------------------------
    case(condition_run, "data must be a dict", data=[1.0]),
    case(condition_run, "evidence 'z' is never sampled.*'x', 'y'", data={"z": 1.0}),
    case(condition_run, "'y' contains NaN", data={"y": NAN}),
    case(condition_run, "'y' is not a number or tensor: None", data={"y": None}),
    case(condition_run, "'y' is not a number or tensor", data={"y": lambda y: y}),
    case(condition_run, "'w' is outside the support", data={"w": 0.0}, program=rich),
    case(condition_run, "'c' is outside the support", data={"c": 3}, program=rich),
    case(condition_run, "'v' has shape \\(1,\\)", data={"v": torch.zeros(1)}, program=rich),
    case(condition_run, "'x' is set by an intervention", data={"x": 1.0}, program=cp.do(model, {"x": 2.0})),
    # -- twin_world ----------------------------------------------------------------------------
    case(twin_run, "dim of the world plate must be a negative int, got 0", actions={"x": 1.0}, dim=0),
    case(twin_run, "dim of the world plate must be a negative int, got 2", actions={"x": 1.0}, dim=2),
    case(twin_run, "evidence must be a dict", actions={"x": 1.0}, evidence=[1.0]),
    case(twin_run, "actions of world 1 must be a dict", actions=1.0),
    case(twin_run, "'y' contains NaN", actions={"x": 1.0}, evidence={"y": NAN}),
    # -- sample ---------------------------------------------------------------------------------
    case(cp.sample, "model must be a Pyro program", model="model"),
    case(cp.sample, "num_samples must be a positive int, got '10'", model=model, num_samples="10"),
    case(cp.sample, "num_samples must be a positive int, got None", model=model, num_samples=None),
    case(cp.sample, "do must be a dict", model=model, do=[("x", 1.0)]),
    case(cp.sample, "seed must be None or a non-negative int, got -1", model=model, seed=-1),
    case(cp.sample, "seed must be None or a non-negative int", model=model, seed=2**64),
    case(cp.sample, "model_kwargs must be a dict", model=model, model_kwargs=[1]),
    case(cp.sample, "model_kwargs must be keyed by argument name", model=model, model_kwargs={1: 2}),
    case(cp.sample, "before its first sample site.*positional argument", model=model, model_args=(1,)),
    case(cp.sample, "intervention 'q' is never sampled", model=model, do={"q": 1.0}),
    case(cp.sample, "'b' is outside the support", model=rich, do={"b": -1.0}),
    case(cp.sample, "'c' is outside the support", model=rich, do={"c": lambda c: c + 3}),
    # -- counterfactual ---------------------------------------------------------------------------
    case(counterfactual, "evidence must be a dict keyed by site name", evidence=[1.0]),
    case(counterfactual, "evidence must be keyed by site name", evidence={0: 1.0}),
    case(counterfactual, "evidence 'q' is never sampled", evidence={"q": 1.0}),
    case(counterfactual, "'x' contains NaN", evidence={"x": torch.tensor([0.0, NAN])}),
    case(counterfactual, "'x' has shape \\(2, 2\\)", evidence={"x": torch.zeros(2, 2)}),
    case(counterfactual, "disagree on the number of units", evidence={"x": torch.zeros(3), "y": torch.zeros(2)}),
    case(counterfactual, "'w' is outside the support", model=rich, evidence={"w": -2.0}),
    case(counterfactual, "'v' has shape \\(3,\\)", model=rich, evidence={"v": torch.zeros(3)}),
    case(counterfactual, "'y'\\] are already observed", model=cp.condition(model, {"y": 1.0}), evidence={"y": 1.0}),
    case(counterfactual, "abduction must be one of", abduction="magic"),
    case(counterfactual, "seed must be None or a non-negative int, got False", seed=False),
    case(counterfactual, "num_samples must be a positive int, got True", num_samples=True),
    case(counterfactual, "abduction='exact' is impossible.*\\['x'\\]", evidence={"y": 1.0}, abduction="exact"),
    case(counterfactual, "abduction='amortized' needs guide=", evidence={"y": 1.0}, abduction="amortized"),
    case(counterfactual, "num_particles must be a positive int", evidence={"y": 1.0}, num_particles=-5),
    case(counterfactual, "svi_steps must be a positive int", evidence={"y": 1.0}, abduction="svi", svi_steps=0),
    case(counterfactual, "svi_lr must be a positive number", evidence={"y": 1.0}, abduction="svi", svi_lr=0.0),
    # -- amortised abduction: guides and the evidence they read ---------------------------------
    case(guided, "guide must be a Pyro program", guide=3),
    case(guided, "contradicts it", abduction="svi"),
    case(guided, "the guide samples observed site\\(s\\) \\['x'\\]", guide=guide_observed),
    case(guided, "does not sample latent site\\(s\\) \\['z'\\]", guide=guide_nothing),
    case(guided, "the guide reads observed site\\(s\\) \\['t'\\]", evidence={"x": torch.tensor([1.0])}),
    case(deep_counterfactual, "'image' has shape \\(4, 1, 14, 28\\)", image=lambda x: x[:, :, :14]),
    case(deep_counterfactual, "'image' has shape \\(4, 3, 28, 28\\)", image=lambda x: x.expand(4, 3, 28, 28)),
    case(deep_counterfactual, "'image' has shape \\(4, 784\\)", image=lambda x: x.reshape(4, 784)),
    case(deep_counterfactual, "'image' contains NaN", image=lambda x: x * NAN),
    case(deep_counterfactual, "number of units", image=lambda x: x[:3]),
    case(deep_counterfactual, "'thickness' is outside the support", thickness=lambda t: -t),
    case(deep_counterfactual, "'digit' is outside the support", digit=lambda d: d + 10),
    case(deep_counterfactual, "guide needs the observed sites \\['thickness'\\]", thickness=None),
    case(deep_counterfactual, "'intensity' is outside the support", do={"intensity": 2.0}),
    # -- effect -----------------------------------------------------------------------------------
    case(effect, "outcome must be a site name, got 3", outcome=3),
    case(effect, "outcome 'q' is not a site of the program", outcome="q"),
    case(effect, "baseline must be a dict", baseline=2.0),
    case(effect, "intervention 'q' is never sampled", baseline={"q": 2.0}),
    case(effect, "'x' contains NaN", do={"x": NAN}),
    case(effect, "'x' has shape \\(3,\\)", do={"x": torch.ones(3)}),
    case(effect, "outcome 'y' sits in plate", model=items),
    case(effect, "outcome 'v' has 1 event dim", model=rich, outcome="v"),
    case(effect, "'c' is outside the support", model=rich, do={"c": 3}),
]


@pytest.mark.parametrize("fn, kwargs, match", CASES)
def test_bad_input_raises_a_causal_error_naming_the_culprit(fn, kwargs, match):
    with pytest.raises(cp.CausalError, match=match):
        fn(**kwargs)
