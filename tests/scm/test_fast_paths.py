"""Batched paths of NeuralSCM == the generic Pyro path, on random graphs and mechanisms.

The generic path is the Pyro program itself: per-site log densities of a trace,
``noise_model(fn).abduct`` per site, the twin-world handler pushing given noise through
both worlds, and the queries run on ``lambda: scm()`` (a plain program, which offers no
batched paths) instead of ``scm`` (which the queries answer in batched form).
"""

import contextlib
import functools
import warnings

import pyro
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.handlers.twin_world import TwinWorldMessenger
from causalppl.kernels import use_backend
from causalppl.mechanisms import blocked_mlp
from causalppl.noise import noise_model
from causalppl.scm import NeuralSCM, fast
from causalppl.testing import strategies as cst

KINDS = ["additive", "location_scale", "flow"]


@pytest.fixture(autouse=True, scope="module")
def _torch_backend():
    """These tests compare the torch fast path with the Pyro path (kernels: test_kernel_route)."""
    with use_backend("torch"):
        yield


N_UNITS = 6


def _close(a, b, what):
    torch.testing.assert_close(
        torch.as_tensor(a).double(), torch.as_tensor(b).double(), rtol=1e-5, atol=1e-7, msg=lambda m: f"{what}: {m}"
    )


@hst.composite
def scms(draw, allow_other=True):
    """A NeuralSCM on a random DAG with random default kind, per-node overrides and sizes."""
    graph = draw(cst.dags(min_nodes=1, max_nodes=5, max_indegree=3))
    default = draw(hst.sampled_from(KINDS))
    overrides = {}
    if allow_other:
        for node in graph.nodes:
            choice = draw(hst.sampled_from(["default"] * 3 + KINDS + ["categorical", "vector"]))
            if choice == "categorical":
                overrides[node] = {"kind": "categorical", "categories": draw(hst.integers(2, 4))}
            elif choice == "vector":
                overrides[node] = {"kind": draw(hst.sampled_from(KINDS)), "dim": draw(hst.integers(1, 3))}
            elif choice != "default":
                overrides[node] = choice
    hidden = draw(hst.sampled_from([(), (5,), (4, 3)]))
    activation = draw(hst.sampled_from(["tanh", "relu", "silu"]))
    seed = draw(cst.seeds())
    torch.manual_seed(seed)
    scm = NeuralSCM(
        graph,
        mechanism=default,
        hidden=hidden,
        activation=activation,
        mechanisms=overrides,
        bins=draw(hst.integers(2, 5)),
        bound=3.0,
    )
    with torch.no_grad():  # data units differ from model units: exercise the standardisation
        scm.feature_loc.uniform_(-2, 2)
        scm.feature_scale.uniform_(0.5, 3)
        for p in scm.parameters():  # larger weights than the init: non-trivial mechanisms
            p.mul_(1.5)
    return scm, seed


def _trace(scm, n=N_UNITS, data=None):
    program = poutine.condition(scm, data) if data is not None else scm
    with pyro.plate("unit", n, dim=-1):
        return poutine.trace(program).get_trace()


def _values(tr, scm):
    return {v: tr.nodes[v]["value"].detach() for v in scm.nodes}


def _do(draw, scm):
    targets = draw(hst.lists(hst.sampled_from(scm.nodes), min_size=1, max_size=2, unique=True))
    do = {}
    for t in targets:
        spec = scm.specs[t]
        if spec.kind == "categorical":
            do[t] = draw(hst.integers(0, spec.categories - 1))
        elif spec.dim is not None:
            do[t] = torch.tensor(draw(hst.lists(hst.floats(-3, 3), min_size=spec.dim, max_size=spec.dim)))
        else:
            do[t] = draw(hst.floats(-3, 3))
    return do


@contextlib.contextmanager
def _path(name):
    """``"stacked"``: the reference stacked MLP (autograd) on every batch. ``"blocked"``: the
    CPU path (:mod:`causalppl.mechanisms.blocked_mlp`) on every batch, in blocks of 4 rows
    (6 units: two blocks, the second padded)."""
    if name == "blocked":
        mlp = functools.partial(blocked_mlp.blocked_mlp, rows=4)
    else:
        mlp = "reference"
    with fast.stacked_options(mlp=mlp):
        yield


@contextlib.contextmanager
def _observed(scm, path="stacked"):
    """On ``path``, without autograd: values drawn by running the program, and its trace
    conditioned on them."""
    with torch.no_grad(), _path(path):
        values = _values(_trace(scm), scm)
        yield values, _trace(scm, data=values)


PATHS = pytest.mark.parametrize("path", ["stacked", "blocked"])  # the fast path's variants (_path)


@PATHS
@given(drawn=scms())
def test_log_prob_equals_pyro_trace(path, drawn):
    scm, _ = drawn
    with _observed(scm, path) as (values, tr):
        reference = sum(tr.nodes[v]["fn"].log_prob(tr.nodes[v]["value"]) for v in scm.nodes)
        _close(scm.log_prob(values), reference, "log_prob")


@PATHS
@given(drawn=scms())
def test_log_prob_gradients_equal_pyro_trace(path, drawn):
    scm, _ = drawn
    values = {k: v for k, v in _values(_trace(scm), scm).items()}
    params = list(scm.parameters())
    with _path(path):
        fast = torch.autograd.grad(scm.log_prob(values).sum(), params, allow_unused=True)
    tr = _trace(scm, data=values)
    slow = torch.autograd.grad(tr.log_prob_sum(), params, allow_unused=True)
    for a, b in zip(fast, slow):
        if a is None or b is None:
            assert (a is None or not a.any()) and (b is None or not b.any())
        else:
            _close(a, b, "gradient")


@PATHS
@given(drawn=scms())
def test_abduction_equals_per_site_noise_model(path, drawn):
    scm, seed = drawn
    with _observed(scm, path) as (values, tr):
        u = scm.abduct(values, seed=seed)
        for v in scm.nodes:
            nm = noise_model(tr.nodes[v]["fn"], v)
            if scm.specs[v].kind == "categorical":  # an exact posterior draw: it must explain the data
                logits = tr.nodes[v]["fn"].logits
                assert torch.equal((logits + u[v]).argmax(-1), values[v])
            else:
                _close(u[v], nm.abduct(values[v]), f"noise of {v}")


def _twin(scm, noise, do, n=N_UNITS):
    """Generic prediction from given noise: the twin-world handler (factual, counterfactual)."""
    noise = {k: v.unsqueeze(0) for k, v in noise.items()}  # the world dim (size 1: shared)
    with poutine.trace() as tr, TwinWorldMessenger(actions=do, noise=noise, dim=-2):
        with pyro.plate("unit", n, dim=-1):
            scm()
    return {v: tr.trace.nodes[v]["value"] for v in scm.nodes}


@given(scms(), hst.data())
def test_sampling_from_given_noise_equals_twin_world(drawn, data):
    scm, seed = drawn
    do = _do(data.draw, scm)
    with torch.no_grad():
        values = _values(_trace(scm), scm)
        noise = scm.abduct(values, seed=seed)
        worlds = _twin(scm, noise, do)
        paths = scm.batched_paths()
        factual, _ = paths.push(noise, {})
        intervened, _ = paths.push(noise, do)
        for v in scm.nodes:
            _close(factual[v], worlds[v][0], f"factual {v}")
            _close(factual[v], values[v], f"re-pushed {v}")
            _close(intervened[v], worlds[v][1], f"intervened {v}")
        # counterfactual prediction with the same noise: the twin world's second world
        cf = fast.counterfactual(scm, values, do, noise=noise)
        for v in scm.nodes:
            _close(cf[v], worlds[v][1], f"counterfactual {v}")


@contextlib.contextmanager
def _quiet():
    """The random interventions may extrapolate: that warning is tested elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cp.CausalWarning)
        yield


@given(scms(allow_other=False), hst.data())
def test_public_counterfactual_takes_the_batched_path_with_the_pyro_answer(drawn, data):
    scm, _ = drawn
    do = _do(data.draw, scm)
    with torch.no_grad(), _quiet():
        values = _values(_trace(scm), scm)
        batched = cp.counterfactual(scm, evidence=values, do=do, num_samples=2)
        generic = cp.counterfactual(lambda: scm(), evidence=values, do=do, num_samples=2)
    assert batched.attrs["abduction"] == generic.attrs["abduction"] == "exact"
    assert batched.attrs["mechanisms"] == generic.attrs["mechanisms"]
    assert {k: v for k, v in batched.attrs.items() if k.startswith("extrapolation")} == pytest.approx(
        {k: v for k, v in generic.attrs.items() if k.startswith("extrapolation")}
    )
    assert batched.sizes == generic.sizes
    for v in scm.nodes:
        assert batched[v].dims == generic[v].dims
        _close(batched[v].values, generic[v].values, f"counterfactual {v}")
    rows = torch.stack([values[v] for v in scm.nodes], 1)
    _close(
        scm.counterfactual_rows(rows, do),
        torch.as_tensor(
            batched.to_array("node").sel(world="counterfactual").isel(sample=0).transpose("unit", "node").values
        ),
        "counterfactual_rows",
    )


@given(scms(), hst.data())
def test_public_counterfactual_with_categorical_nodes_matches_the_pyro_path(drawn, data):
    """Gumbel posteriors are random: both paths must explain the evidence and agree on
    every node the intervention cannot reach."""
    scm, seed = drawn
    do = _do(data.draw, scm)
    with torch.no_grad(), _quiet():
        values = _values(_trace(scm), scm)
        batched = cp.counterfactual(scm, evidence=values, do=do, num_samples=3, seed=seed)
        generic = cp.counterfactual(lambda: scm(), evidence=values, do=do, num_samples=3, seed=seed)
    untouched = set(scm.nodes) - fast.affected(scm, do)
    for v in scm.nodes:
        assert batched[v].dims == generic[v].dims
        _close(batched[v].sel(world="factual").values, generic[v].sel(world="factual").values, f"factual {v}")
        if v in untouched:
            _close(batched[v].sel(world="counterfactual").values, generic[v].sel(world="counterfactual").values, v)


@given(scms())
def test_public_sample_is_seeded_typed_and_in_support(drawn):
    """Same seed, same draws; categorical nodes are integers; every draw has finite density."""
    scm, seed = drawn
    with torch.no_grad():
        out = cp.sample(scm, 50, seed=seed)
        again = cp.sample(scm, 50, seed=seed)
        for v in scm.nodes:
            assert out[v].sizes["sample"] == 50
            assert (out[v] == again[v]).all()
            assert out[v].dtype == ("int64" if scm.specs[v].kind == "categorical" else "float64")
        lp = scm.log_prob({v: torch.as_tensor(out[v].values) for v in scm.nodes})
        assert torch.isfinite(lp).all()


@given(scms(allow_other=False), hst.data())
def test_public_effect_and_sample_agree_with_the_pyro_path_in_distribution(drawn, data):
    scm, seed = drawn
    do = _do(data.draw, scm)
    outcome = scm.nodes[-1]
    with torch.no_grad(), _quiet():
        batched = cp.effect(scm, outcome, do=do, num_samples=4000, seed=seed)
        generic = cp.effect(lambda: scm(), outcome, do=do, num_samples=4000, seed=seed)
        spread = float(cp.sample(scm, 4000, do=do, seed=seed)[outcome].std()) + 1e-9
    assert abs(batched - generic) < 6 * spread / 4000**0.5 + 1e-6


@given(scms())
def test_per_node_log_prob_equals_each_site(drawn):
    scm, _ = drawn
    with _observed(scm) as (values, tr):
        per_node = scm.log_prob(values, per_node=True)
        assert list(per_node) == scm.nodes
        for v in scm.nodes:
            _close(per_node[v], tr.nodes[v]["fn"].log_prob(values[v]), f"log_prob of {v}")


def test_moving_the_model_to_another_dtype_keeps_the_fast_paths_right():
    torch.manual_seed(0)
    scm = NeuralSCM({"a": [], "b": ["a"], "c": ["a", "b"]}, hidden=(4,))
    with torch.no_grad():
        ds = cp.sample(scm, 5, seed=0)
        data = {k: torch.as_tensor(ds[k].values) for k in scm.nodes}
        before = scm.log_prob(data)
        scm.float()
        after = scm.log_prob({k: v.float() for k, v in data.items()})
        assert after.dtype == torch.float32
        _close(after, before, "float32 log_prob")
        cf = cp.counterfactual(scm, {k: v.float() for k, v in data.items()}, {"a": 1.0}, num_samples=1)
        assert cf["c"].dtype == "float32"
