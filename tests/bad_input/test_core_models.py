"""Bad input to fitting (with and without a guide), NeuralSCM and its fast paths, saved model
files, the noise registry, graphs and the graph metrics: each case raises a CausalError (a
ValueError) whose message names the argument at fault. Known gaps are listed last, as strict
expected failures, each with the input that gets through."""

import functools
import os
import tempfile

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl import datasets, noise
from causalppl.models import DeepSCM


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
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


def guide_reading_rest(x, **rest):
    with pyro.plate("unit", x.shape[0]):
        pyro.sample("z", dist.Normal(0.5 * x, 0.6))


@functools.lru_cache(maxsize=1)
def _scm():
    return cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))


def fit(**kw):
    data = {"x": torch.linspace(-1, 1, 30), "y": torch.linspace(-1, 1, 30) ** 3}
    return cp.fit(**{"model": _scm(), "data": data, "steps": 2, "progress": False, **kw})


def fit_guided(**kw):
    data = {"x": torch.linspace(-1, 1, 30), "t": torch.linspace(1, -1, 30)}
    return cp.fit(**{"model": latent, "data": data, "guide": guide, "steps": 2, "progress": False, **kw})


def log_prob(data):
    return _scm().log_prob(data)


def counterfactual_rows(rows=None, do=None, **kw):
    return _scm().counterfactual_rows(
        torch.zeros(3, 2) if rows is None else rows, {"x": 1.0} if do is None else do, **kw
    )


def load_file(kind):
    """``cp.load`` of a file that is missing, not a model file, or changed after saving."""
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "m.pt")
    if kind == "junk":
        with open(path, "wb") as f:
            f.write(b"not a model")
    elif kind == "other":
        torch.save({"weights": torch.zeros(2)}, path)
    elif kind in ("tampered", "version"):
        payload = torch.load(_scm().save(path), weights_only=True)
        if kind == "tampered":
            name = next(iter(payload["state"]))
            payload["state"][name] = payload["state"][name] + 1.0
        else:
            payload["version"] = 99
        torch.save(payload, path)
    return cp.load(folder if kind == "folder" else path)


class Odd(dist.Normal):
    """A law whose registered noise form is broken."""


def odd_form():
    noise.register(Odd)(lambda fn, site: 42)

    def odd():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", Odd(x, 1.0))

    return cp.counterfactual(odd, {"x": 0.0, "y": 1.0}, {"x": 1.0}, num_samples=2)


def case(fn, match, **kwargs):
    return pytest.param(fn, kwargs, match, id=f"{getattr(fn, '__name__', 'call')}-{match}")


@functools.lru_cache(maxsize=1)
def _deep():
    md = datasets.morpho_digits(n=4, seed=0)
    return DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,), flow_hidden=(4,)), md.data


def deep_counterfactual(**changes):
    scm, data = _deep()
    ev = {k: (changes[k](v) if k in changes else v) for k, v in data.items() if changes.get(k, 1) is not None}
    return cp.counterfactual(scm, ev, {"thickness": 3.0}, guide=scm.guide, num_samples=1, seed=0)


def guided(**kw):
    ev = {"x": torch.tensor([1.0, 0.5]), "t": torch.tensor([0.2, 0.1])}
    return cp.counterfactual(**{"model": latent, "evidence": ev, "do": {"t": 0.0}, "guide": guide, **kw})


def load_to(map_location):
    return cp.load(_scm().save(os.path.join(tempfile.mkdtemp(), "m.pt")), map_location=map_location)


def render(format):
    return cp.CausalGraph({"x": [], "y": ["x"]}).render(os.path.join(tempfile.mkdtemp(), "g"), format=format)


def twin_run(actions=None, evidence=None):
    return cp.twin_world(model, actions=actions or {"x": 1.0}, evidence=evidence, dim=-1)()


def unsqueezed():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(x.unsqueeze(-1), 1.0))  # a batch dim left of the query's plates


def plate_total(keepdim):
    def program():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        with pyro.plate("items", 3):
            y = pyro.sample("y", dist.Normal(x, 1.0))
        return pyro.deterministic("total", y.sum(-1, keepdim=keepdim))

    return program


NAN = float("nan")
CYCLE = {"a": ["b"], "b": ["a"]}
CASES = [
    # -- fit --------------------------------------------------------------------------------------
    case(fit, "model must be a Pyro program", model=None),
    case(fit, "steps must be a positive int", steps=0),
    case(fit, "lr must be a positive number", lr=-1.0),
    case(fit, "lr must be a positive number, got True", lr=True),
    case(fit, "steps must be a positive int, got False", steps=False),
    case(fit, "batch_size must be a positive int", batch_size=0),
    case(fit, "holdout must be a fraction", holdout=1.0),
    case(fit, "patience must be a positive int", patience=0),
    case(fit, "schedule must be one of", schedule="linear"),
    case(fit, "num_particles must be a positive int", num_particles=0),
    case(fit, "latent must be a list of distinct site names", latent="x"),
    case(fit, "latent must be a list of distinct site names", latent=5),
    case(fit, "latent must be a list of distinct site names", latent=["y", "y"]),
    case(fit, "data must be a dict of tensors", data=[1, 2]),
    case(fit, "data is missing node\\(s\\) \\['y'\\]", data={"x": torch.zeros(30)}),
    case(
        fit,
        "column\\(s\\) \\['z'\\].*ignore_extra",
        data={"x": torch.zeros(3), "y": torch.zeros(3), "z": torch.zeros(3)},
    ),
    case(fit, "column 'y' has NaN or inf", data={"x": torch.zeros(3), "y": torch.tensor([0.0, NAN, 1.0])}),
    case(fit, "column 'y' has 2 rows but column 'x' has 3", data={"x": torch.zeros(3), "y": torch.zeros(2)}),
    case(fit, "column 'x' has dtype <U1", data={"x": np.array(["a", "b"]), "y": np.zeros(2)}),
    case(fit, "data has no rows", data={"x": torch.zeros(0), "y": torch.zeros(0)}),
    case(fit_guided, "guide must be a Pyro program", guide="guide"),
    case(fit_guided, "the guide samples observed site\\(s\\) \\['x'\\]", guide=guide_observed),
    case(fit_guided, "does not sample latent site\\(s\\) \\['z'\\]", guide=guide_nothing),
    case(fit_guided, "the guide reads observed site\\(s\\) \\['t'\\]", data={"x": torch.zeros(30)}),
    case(fit_guided, "latent= is for fits without a guide", latent=["z"]),
    # -- NeuralSCM, its fast paths, saved files ---------------------------------------------------------
    case(cp.NeuralSCM, "hidden must be a sequence of positive ints, got 3", parents={"x": []}, hidden=3),
    case(cp.NeuralSCM, "hidden must be a sequence of positive ints", parents={"x": []}, hidden=(True,)),
    case(cp.NeuralSCM, "mechanism must be one of", parents={"x": []}, mechanism="magic"),
    case(cp.NeuralSCM, "activation must be one of", parents={"x": []}, activation="gelu"),
    case(cp.NeuralSCM, "bins must be an int >= 2", parents={"x": []}, bins=1),
    case(cp.NeuralSCM, "bound > 0", parents={"x": []}, bound=-1.0),
    case(cp.NeuralSCM, "directed cycle through", parents=CYCLE),
    case(cp.NeuralSCM, "parent 'x' of node 'y' is not a node", parents={"y": ["x"]}),
    case(cp.NeuralSCM, "graph with no nodes", parents={}),
    case(cp.NeuralSCM, "parents must be a mapping", parents=[("x", "y")]),
    case(cp.NeuralSCM, "node\\(s\\) \\['q'\\] that are not in the graph", parents={"x": []}, mechanisms={"q": "flow"}),
    case(cp.NeuralSCM, "mechanism of node 'x' must be one of", parents={"x": []}, mechanisms={"x": "magic"}),
    case(cp.NeuralSCM, "dim of node 'x' must be a positive int", parents={"x": []}, mechanisms={"x": {"dim": 0}}),
    case(cp.NeuralSCM, "node 'x' needs 'categories'", parents={"x": []}, mechanisms={"x": {"kind": "categorical"}}),
    case(cp.NeuralSCM, "node 'x' has unknown keys \\['foo'\\]", parents={"x": []}, mechanisms={"x": {"foo": 1}}),
    case(log_prob, "data is missing node\\(s\\) \\['y'\\]", data={"x": torch.zeros(3)}),
    case(log_prob, "column 'x' has shape \\(5, 2\\)", data={"x": torch.zeros(5, 2), "y": torch.zeros(5, 2)}),
    case(log_prob, "data must be a dict of tensors", data=[[0.0, 1.0]]),
    case(counterfactual_rows, "intervention 'q' is never sampled", do={"q": 1.0}),
    case(counterfactual_rows, "rows must be a float tensor \\[n, 2\\]", rows=torch.zeros(3, 3)),
    case(counterfactual_rows, "rows must be a float tensor \\[n, 2\\]", rows=torch.zeros(3, 2, 1)),
    case(counterfactual_rows, "evidence rows contain NaN", rows=torch.full((3, 2), NAN)),
    case(counterfactual_rows, "'x' contains NaN", do={"x": NAN}),
    case(counterfactual_rows, "seed must be None or a non-negative int", seed="a"),
    case(load_file, "no model file at", kind="missing"),
    case(load_file, "no model file at", kind="folder"),
    case(load_file, "is not a readable causalppl model file", kind="junk"),
    case(load_file, "format marker missing", kind="other"),
    case(load_file, "modified after it was saved", kind="tampered"),
    case(load_file, "format version 99", kind="version"),
    # -- noise registry -------------------------------------------------------------------------
    case(noise.register, "register takes a torch Distribution subclass, got 3", dist_type=3),
    case(noise.register, "register takes a torch Distribution subclass, got <class 'int'>", dist_type=int),
    case(lambda: noise.register(Odd)("not callable"), "the noise form of Odd must be a callable"),
    case(odd_form, "registered for Odd returned int, not a causalppl.noise.NoiseModel"),
    # -- graphs and graph metrics ------------------------------------------------------------------
    case(cp.CausalGraph, "parents must be a mapping", parents=None),
    case(cp.CausalGraph, "node 'a' is its own parent", parents={"a": ["a"]}),
    case(cp.CausalGraph, "parents of 'b' list a node twice", parents={"a": [], "b": ["a", "a"]}),
    case(
        cp.CausalGraph({"x": [], "y": ["x"]}).parents, "'q' is not a node of the graph; nodes: \\['x', 'y'\\]", node="q"
    ),
    case(cp.CausalGraph({"x": [], "y": ["x"]}).mutilate, "'q' is not a node", targets=["q"]),
    case(cp.CausalGraph({"x": [], "y": ["x"]}).twin_network, "'q' is not a node", actions=["q"]),
    case(cp.metrics.mcc, "z_true must be a numeric matrix, got str", z_true="abc", z_hat=np.zeros((5, 2))),
    case(
        cp.metrics.mcc,
        "z_true must be a matrix \\[samples, dims\\]",
        z_true=np.zeros((1, 5, 2)),
        z_hat=np.zeros((5, 2)),
    ),
    case(cp.metrics.mcc, "z_hat contains NaN", z_true=np.eye(5, 2), z_hat=torch.full((5, 2), NAN)),
    case(
        cp.metrics.shd,
        "only in graph_true \\['b'\\], only in graph_hat \\['c'\\]",
        graph_true={"a": [], "b": []},
        graph_hat=cp.CausalGraph({"a": [], "c": []}),
    ),
    case(cp.metrics.shd, "graph_true must be a CausalGraph, PDAG, parents dict", graph_true="ab", graph_hat={"a": []}),
    case(cp.metrics.shd, "graph_true: the graph has a directed cycle", graph_true=CYCLE, graph_hat={"a": [], "b": []}),
    case(cp.metrics.shd, "graph_true must be a square matrix", graph_true=np.zeros((2, 3)), graph_hat=np.zeros((2, 3))),
    # formerly raw errors or accepted input
    case(lambda: cp.do(42, {"x": 1.0}), "model"),  # TypeError: DoMessenger.__init__() takes 2 positional ...
    case(lambda: cp.condition("model", {"x": 1.0}), "model"),  # TypeError, likewise
    case(cp.sample, "model_args", model=model, model_args=5),  # TypeError: Value after * must be an iterable
    case(cp.load, "path", path=3),  # TypeError: expected str, bytes or os.PathLike object
    case(cp.load, "path", path=None),
    case(load_to, "map_location", map_location="nonsense"),  # RuntimeError: Expected one of cpu, cuda, ...
    case(counterfactual_rows, "rows", rows=[[0.0, 1.0]]),  # AttributeError: 'list' object has no attribute 'dim'
    case(counterfactual_rows, "'x'", do={"x": torch.ones(4)}),  # RuntimeError: the expanded size ...
    case(counterfactual_rows, "must be a dict", do=[("x", 1.0)]),  # names "intervention ('x', 1.0)" as a site
    case(fit, "progress", progress="yes"),  # accepted
    case(fit, "early_stopping", early_stopping="yes"),  # accepted
    case(cp.NeuralSCM, "standardize", parents={"x": []}, standardize="yes"),  # accepted
    case(guided, "the guide reads observed site", guide=guide_reading_rest, evidence={"t": torch.zeros(2)}),
    case(deep_counterfactual, "the guide reads observed site|'image'", image=None),  # TypeError: guide() missing
    case(deep_counterfactual, "'image'", image=lambda x: 255 * x),  # pixels outside [0, 1] accepted
    case(deep_counterfactual, "'image'", image=lambda x: x - 2.0),
    case(render, "format", format="exe"),  # graphviz's ValueError
    case(twin_run, "'z' is never sampled", actions={"z": 1.0}),  # a misspelled site is ignored
    case(twin_run, "'z' is never sampled", evidence={"z": 1.0}),
    case(cp.sample, "'x'", model=model, num_samples=3, do={"x": torch.tensor([0.0, 1.0, 2.0])}),  # one per sample
    case(cp.effect, "'x'", model=model, outcome="y", do={"x": torch.ones(1, 2, 3)}, num_samples=3),  # (world, sample)
    case(cp.sample, "'y'", model=unsqueezed, num_samples=4),  # labelled 'y_batch-2' of size 4
    case(cp.sample, "'total'", model=plate_total(False), num_samples=4),  # labelled 'total_batch-1'
    case(cp.counterfactual, "'total'", model=plate_total(True), evidence={"x": 1.0}, do={"x": 0.0}),  # raw RuntimeError
    case(cp.metrics.mcc, "z_true", z_true=np.eye(5, 2) * (1 + 1j), z_hat=np.eye(5, 2)),  # ComplexWarning, then accepted
]


@pytest.mark.parametrize("fn, kwargs, match", CASES)
def test_bad_input_raises_a_causal_error_naming_the_culprit(fn, kwargs, match):
    with pytest.raises(cp.CausalError, match=match):
        fn(**kwargs)
