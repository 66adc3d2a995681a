"""Bad input to the metrics, graphs, identifiability fitters, datasets and test helpers: each
case raises a CausalError (a ValueError) whose message names the argument at fault."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import find, given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl import identify, linalg, metrics
from causalppl.datasets import KnownSCM, nonlinear_anm
from causalppl.identify import CRLParams, crl_model, shear_latent
from causalppl.noise.families import NOISE_FAMILIES
from causalppl.testing import assert_identifiable, assert_invariant, orthogonal_group
from causalppl.testing import strategies as st

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(60, 2))
X3 = Z @ np.array([[1.0, 0.5, -0.3], [0.2, 1.0, 0.7]]) + 0.3 * RNG.normal(size=(60, 3))
U = np.repeat(np.arange(3), 20)
NAN = Z.copy()
NAN[4, 1] = np.nan
INF = Z.copy()
INF[0, 0] = np.inf
CTX = [Z, Z * np.array([2.0, 1.0]), Z * np.array([1.0, 0.5])]
DAG = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
CYCLE = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
PARAMS = CRLParams(torch.eye(2), torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.ones(2), [1], torch.ones(1))
NONE = frozenset()
INVARIANT = dict(
    log_lik_fn=lambda w: w.sum(), params=torch.eye(2), group_action=lambda w, r: r @ w, sample_group=orthogonal_group(2)
)


def case(fn, match, **kwargs):
    return pytest.param(fn, kwargs, match, id=f"{getattr(fn, '__name__', 'call')}-{match}")


CASES = [
    # -- metrics: samples ------------------------------------------------------------------
    case(metrics.mcc, "z_hat must have at least 1 column", z_true=Z, z_hat=np.zeros((60, 0))),
    case(metrics.mcc, "z_true contains NaN", z_true=NAN, z_hat=Z),
    case(metrics.mcc, "z_hat contains NaN or inf", z_true=Z, z_hat=INF),
    case(metrics.mcc, "z_hat has 10;", z_true=Z, z_hat=Z[:10]),
    case(metrics.mcc, "method", z_true=Z, z_hat=Z, method="kendall"),
    case(metrics.weak_mcc, "z_hat must have at least 1 column", z_true=Z, z_hat=np.zeros((60, 0))),
    case(metrics.correlation_matrix, "z_true must be a matrix", z_true=np.zeros((60, 2, 2)), z_hat=Z),
    case(metrics.matched_correlations, "z_true needs at least 3", z_true=Z[:2], z_hat=Z[:2]),
    case(metrics.r2, "kind", z_true=Z, z_hat=Z, kind="cubic"),
    case(metrics.r2, "degree", z_true=Z, z_hat=Z, kind="elementwise", degree=0),
    case(metrics.r2, "reduce", z_true=Z, z_hat=Z, reduce="yes"),
    case(metrics.r2, "z_hat contains NaN", z_true=Z, z_hat=NAN),
    case(metrics.amari_index, "matrix contains NaN", matrix=[[1.0, np.nan], [0.0, 1.0]]),
    case(metrics.amari_index, "matrix must be a square", matrix=np.ones((2, 3))),
    case(metrics.amari_index, "mixing contains NaN", matrix=np.eye(2), mixing=[[1.0, np.inf], [0.0, 1.0]]),
    case(metrics.dci, "ridge", factors=Z, code=Z, ridge=-1.0),
    case(metrics.dci, "test_fraction", factors=Z, code=Z, test_fraction=1.0),
    case(metrics.dci, "code must have at least 1 column", factors=Z, code=np.zeros((60, 0))),
    case(metrics.mig, "bins", factors=Z, code=Z, bins=1),
    case(metrics.mig, "factors contains NaN", factors=NAN, code=Z),
    case(metrics.sap, "code has 59;", factors=Z, code=Z[1:]),
    # -- metrics: graphs ---------------------------------------------------------------------
    case(metrics.shd, "graph_true contains NaN", graph_true=[[0, np.nan], [0, 0]], graph_hat=np.zeros((2, 2))),
    case(metrics.shd, "graph_hat must hold only 0 and 1", graph_true=np.zeros((2, 2)), graph_hat=[[0, 2], [0, 0]]),
    case(metrics.shd, "graph_hat must hold only 0 and 1", graph_true=np.zeros((2, 2)), graph_hat=[[0, 0.5], [0, 0]]),
    case(metrics.shd, "graph_true: the graph has a directed cycle", graph_true=CYCLE, graph_hat=DAG),
    case(metrics.shd, "graph_hat adjacency has a self-loop", graph_true=DAG, graph_hat=np.eye(3)),
    case(metrics.shd, "nodes names 'a' more than once", graph_true=DAG, graph_hat=DAG, nodes=["a", "b", "a"]),
    case(metrics.shd, "2 node names for a 3-node", graph_true=DAG, graph_hat=DAG, nodes=["a", "b"]),
    case(metrics.shd, "only in graph_hat \\['c'\\]", graph_true={"a": [], "b": []}, graph_hat={"a": [], "c": []}),
    case(metrics.shd, "graph_hat: parents of 'b'", graph_true={"a": [], "b": []}, graph_hat={"a": [], "b": None}),
    case(metrics.shd, "graph_hat must be a CausalGraph", graph_true=DAG, graph_hat=object()),
    case(metrics.shd_cpdag, "graph_hat: the graph has a directed cycle", graph_true=DAG, graph_hat=CYCLE),
    case(metrics.cpdag, "expects a DAG", graph=[[0, 1], [1, 0]]),
    case(metrics.markov_equivalence_class, "directed cycle", graph=CYCLE),
    case(metrics.v_structures, "graph contains NaN", graph=[[0, np.nan], [0, 0]]),
    case(metrics.PDAG, "PDAG nodes names 'a'", nodes=("a", "a"), directed=NONE, undirected=NONE),
    case(metrics.PDAG, "PDAG directed edge \\('a', 'q'\\)", nodes=("a",), directed={("a", "q")}, undirected=NONE),
    case(metrics.PDAG, "PDAG undirected edge", nodes=("a", "b"), directed=NONE, undirected={"ab"}),
    case(
        metrics.PDAG,
        "PDAG joins 'a' and 'b' by more",
        nodes=("a", "b"),
        directed={("a", "b"), ("b", "a")},
        undirected=NONE,
    ),
    case(
        metrics.PDAG,
        "PDAG: the graph has a directed cycle",
        nodes=("a", "b", "c"),
        directed={("a", "b"), ("b", "c"), ("c", "a")},
        undirected=NONE,
    ),
    # -- graphs -------------------------------------------------------------------------------
    case(cp.CausalGraph, "parents of 'a' must be a list of node names, got NoneType", parents={"a": None}),
    case(cp.CausalGraph, "parents of 'a' must be a list of node names, got int", parents={"a": 3}),
    case(cp.CausalGraph, "parents of 'a' must be a list of node names, got the string|got str", parents={"a": "b"}),
    case(cp.CausalGraph, "parents of 'b' must be a list of node names, got dict", parents={"a": [], "b": {"a": 1}}),
    case(cp.CausalGraph, "parents of 'b' must be node names \\(strings\\), got 1", parents={"a": [], "b": [1]}),
    case(cp.CausalGraph, "node names must be strings", parents={1: []}),
    case(cp.CausalGraph, "parent 'q' of node 'a'", parents={"a": ["q"]}),
    case(cp.CausalGraph, "intervened must be a list of names", parents={"a": []}, intervened="a"),
    case(cp.CausalGraph.from_adjacency, "adjacency contains NaN", adjacency=[[0, np.nan], [0, 0]]),
    case(cp.CausalGraph.from_adjacency, "adjacency must hold only 0 and 1", adjacency=[[0, 0.5], [0, 0]]),
    case(cp.CausalGraph.from_adjacency, "adjacency must be a square", adjacency=np.zeros((2, 3))),
    case(cp.CausalGraph.from_adjacency, "adjacency must be a numeric matrix", adjacency=[["a", "b"], ["c", "d"]]),
    case(cp.CausalGraph.from_adjacency, "nodes names 'a' more than once", adjacency=DAG, nodes=["a", "b", "a"]),
    case(cp.CausalGraph.from_adjacency, "2 names for a 3-node", adjacency=DAG, nodes=["a", "b"]),
    case(cp.CausalGraph.from_adjacency, "directed cycle", adjacency=CYCLE),
    # -- identify -----------------------------------------------------------------------------
    case(identify.anm_direction, "max_samples", x=Z[:, 0], y=Z[:, 1], max_samples=-1),
    case(identify.anm_direction, "x needs at least 6 samples, got 4", x=Z[:4, 0], y=Z[:4, 1]),
    case(identify.anm_direction, "alpha", x=Z[:, 0], y=Z[:, 1], alpha=0.0),
    case(identify.anm_direction, "seed", x=Z[:, 0], y=Z[:, 1], seed=-1),
    case(identify.anm_direction, "method", x=Z[:, 0], y=Z[:, 1], method="bootstrap"),
    case(identify.anm_direction, "y contains NaN", x=Z[:, 0], y=NAN[:, 1]),
    case(identify.anm_direction, "scalar", x=Z[:, 0], y=Z),
    case(identify.hsic_test, "y needs at least 6|x needs at least 6", x=Z[:5], y=Z[:5]),
    case(identify.hsic_test, "num_permutations", x=Z[:, 0], y=Z[:, 1], method="permutation", num_permutations=0),
    case(identify.hsic_test, "seed", x=Z[:, 0], y=Z[:, 1], seed=1.5),
    case(identify.fit_ica, "restarts", x=X3, restarts=0),
    case(identify.fit_ica, "rounds", x=X3, rounds=-2),
    case(identify.fit_ica, "steps", x=X3, steps=0),
    case(identify.fit_ica, "seed", x=X3, seed="zero"),
    case(identify.fit_ica, "x contains NaN", x=NAN),
    case(identify.fit_ica, "n > d", x=X3[:3]),
    case(identify.fit_factor_analysis, "num_factors", x=X3, num_factors=0),
    case(identify.fit_factor_analysis, "num_factors must be below the 3 columns", x=X3, num_factors=3),
    case(identify.fit_factor_analysis, "num_factors", x=X3, num_factors=1.5),
    case(identify.fit_factor_analysis, "steps", x=X3, num_factors=1, steps=0),
    case(identify.fit_factor_analysis, "seed", x=X3, num_factors=1, seed=-3),
    case(identify.fit_factor_analysis, "x contains NaN", x=np.full((10, 3), np.nan), num_factors=1),
    case(identify.fit_factor_analysis, "x has a constant column \\(1\\)", x=X3 * [1.0, 0.0, 1.0], num_factors=1),
    case(identify.fit_lingam, "alpha", x=X3, alpha=1.0),
    case(identify.fit_lingam, "restarts", x=X3, restarts=0),
    case(identify.fit_lingam, "seed", x=X3, seed=-1),
    case(identify.fit_lingam, "nodes names 'a' more than once", x=X3, nodes=["a", "b", "a"]),
    case(identify.fit_lingam, "2 node names for 3 columns", x=X3, nodes=["a", "b"]),
    case(identify.fit_equal_variance_sem, "alpha", x=X3, alpha=float("nan")),
    case(identify.fit_equal_variance_sem, "x contains NaN", x=NAN),
    case(identify.fit_linear_sem, "equal_variance", x=Z, graph={"x0": [], "x1": ["x0"]}, equal_variance="yes"),
    case(identify.fit_linear_sem, "noise", x=Z, graph={"x0": [], "x1": ["x0"]}, noise="cauchy"),
    case(identify.fit_linear_sem, "graph must be a CausalGraph", x=Z, graph=None),
    case(identify.fit_linear_sem, "parents of 'x0'", x=Z, graph={"x0": None, "x1": []}),
    case(
        identify.fit_linear_sem,
        "x\\['b'\\] must be a vector of 60",
        x={"a": Z[:, 0], "b": Z[:30, 1]},
        graph={"a": [], "b": ["a"]},
    ),
    case(identify.fit_interventional_crl, "alpha", xs=CTX, alpha=0.0),
    case(identify.fit_interventional_crl, "min_effect", xs=CTX, min_effect=-0.1),
    case(identify.fit_interventional_crl, "refine", xs=CTX, refine="yes"),
    case(identify.fit_interventional_crl, "steps", xs=CTX, steps=0),
    case(identify.fit_interventional_crl, "xs must be a list", xs=torch.as_tensor(Z)),
    case(identify.fit_interventional_crl, "xs\\[1\\] contains NaN", xs=[Z, NAN, Z]),
    case(identify.fit_interventional_crl, "xs\\[2\\] must be \\[n, 2\\]", xs=[Z, Z, X3]),
    case(identify.fit_ivae, "steps", x=Z, u=U, steps=0),
    case(identify.fit_ivae, "lr", x=Z, u=U, lr=0.0),
    case(identify.fit_ivae, "batch_size", x=Z, u=U, batch_size=0),
    case(identify.fit_ivae, "hidden", x=Z, u=U, hidden=-1),
    case(identify.fit_ivae, "latent_dim", x=Z, u=U, latent_dim=0),
    case(identify.fit_ivae, "restarts", x=Z, u=U, restarts=0),
    case(identify.fit_ivae, "seed", x=Z, u=U, seed=-1),
    case(identify.fit_ivae, "obs_scale", x=Z, u=U, obs_scale=-0.1),
    case(identify.fit_ivae, "auxiliary", x=Z, u=U, auxiliary=1),
    case(identify.fit_ivae, "u must hold integer", x=Z, u=U + 0.5),
    case(identify.fit_ivae, "u must hold non-negative", x=Z, u=U - 1),
    case(identify.fit_ivae, "x contains NaN", x=NAN, u=U),
    case(identify.minimize_lbfgs, "steps", loss=lambda v: v.sum(), init=torch.zeros(2), steps=0),
    case(
        CRLParams.from_contexts,
        "contexts.mixing must be square",
        contexts=find(st.interventional_contexts(dim=2, obs_dim=3), lambda ic: True),
    ),
    case(crl_model, "context must be in \\[0, 1\\]", params=PARAMS, context=2),
    case(shear_latent, "latent must be a latent index", params=PARAMS, latent=5, source=0, amount=1.0),
    # -- datasets, linalg, testing ----------------------------------------------------------
    case(
        KnownSCM,
        "equations has no callable for nodes \\['b'\\]",
        graph=cp.CausalGraph({"a": [], "b": ["a"]}),
        equations={"a": lambda v, u: u},
        inverses={"a": lambda v, x: x, "b": lambda v, x: x},
    ),
    case(nonlinear_anm().push, "do names \\['q'\\]", noise={}, do={"q": 1.0}),
    case(linalg.random_orthogonal, "dim", dim=0),
    case(linalg.random_well_conditioned, "max_condition", rows=3, cols=2, max_condition=0.5),
    case(linalg.random_well_conditioned, "rows", rows=-3, cols=2, max_condition=2.0),
    case(assert_identifiable, "margin", fit=0.9, null=0.5, floor=0.5, margin=-1.0),
    case(assert_identifiable, "null is NaN", fit=0.9, null=math.nan, floor=0.5, margin=0.1),
    case(assert_invariant, "num_draws", **INVARIANT, num_draws=0),
    case(assert_invariant, "rtol", **INVARIANT, rtol=-1.0),
    case(orthogonal_group, "dim", dim=0),
]


@pytest.mark.parametrize("fn, kwargs, match", CASES)
def test_bad_input_raises_a_causal_error_naming_the_culprit(fn, kwargs, match):
    with pytest.raises(cp.CausalError, match=match):
        fn(**kwargs)


# -- bad pieces among good ones ----------------------------------------------------------------
def _bad_numbers(*, below=None, above=None):
    """Values that are no number in range: out of range, NaN, bools, strings, None."""
    out = [hst.just(math.nan), hst.booleans(), hst.text(max_size=3), hst.none()]
    if below is not None:
        out.append(hst.floats(max_value=below))
    if above is not None:
        out.append(hst.floats(min_value=above))
    return hst.one_of(*out)


def _bad_choice(*options):
    return hst.one_of(hst.text(max_size=8).filter(lambda t: t not in options), hst.integers(), hst.none())


def _nan_in(data):
    """``data`` with one drawn entry made NaN or infinite."""

    def corrupt(args):
        i, value = args
        out = np.array(data, dtype=np.float64, copy=True)
        out.reshape(-1)[i % out.size] = value
        return out

    return hst.tuples(hst.integers(0, 10**6), hst.sampled_from([np.nan, np.inf, -np.inf])).map(corrupt)


COUNT = hst.one_of(hst.integers(max_value=0), hst.floats(), hst.booleans(), hst.text(max_size=3), hst.none())
SEED = hst.one_of(hst.integers(max_value=-1), hst.integers(min_value=2**64), hst.floats(), hst.booleans())
LEVEL = _bad_numbers(below=0.0, above=1.0)
BOOL = hst.one_of(hst.integers(), hst.floats(), hst.text(max_size=3), hst.none())
NONNEG, POSITIVE = _bad_numbers(below=-1e-300), _bad_numbers(below=0.0)
XY, TWO, FA, IVAE = dict(x=Z[:, 0], y=Z[:, 1]), dict(z_true=Z, z_hat=Z), dict(x=X3, num_factors=1), dict(x=Z, u=U)
SEM = dict(x=Z, graph={"x0": [], "x1": ["x0"]})
HSIC = _bad_choice("gamma", "permutation")
FEW_BINS = hst.one_of(hst.integers(max_value=1), hst.floats(), hst.booleans())
FEW_SAMPLES = hst.one_of(hst.integers(max_value=5), hst.floats(), hst.booleans())
KINDS = _bad_choice("affine", "linear", "elementwise")


def rows(fn, good, **bad):
    """``(callable, good arguments, the argument made bad, its bad values)`` for each of ``bad``."""
    return [(fn, good, arg, values) for arg, values in bad.items()]


ROWS = [
    *rows(identify.anm_direction, XY, x=_nan_in(Z[:, 0]), alpha=LEVEL, seed=SEED, method=HSIC),
    *rows(identify.anm_direction, XY, max_samples=FEW_SAMPLES),
    *rows(identify.hsic_test, XY, y=_nan_in(Z), seed=SEED, num_permutations=COUNT, method=HSIC),
    *rows(identify.fit_ica, dict(x=X3), x=_nan_in(X3), restarts=COUNT, rounds=COUNT, steps=COUNT, seed=SEED),
    *rows(identify.fit_factor_analysis, FA, x=_nan_in(X3), steps=COUNT, seed=SEED),
    *rows(identify.fit_factor_analysis, FA, num_factors=hst.one_of(COUNT, hst.integers(min_value=3))),
    *rows(identify.fit_lingam, dict(x=X3), x=_nan_in(X3), alpha=LEVEL, seed=SEED, restarts=COUNT),
    *rows(identify.fit_equal_variance_sem, dict(x=X3), x=_nan_in(X3), alpha=LEVEL),
    *rows(identify.fit_linear_sem, SEM, x=_nan_in(Z), equal_variance=BOOL, noise=_bad_choice(*NOISE_FAMILIES)),
    *rows(identify.fit_interventional_crl, dict(xs=CTX), alpha=LEVEL, min_effect=NONNEG, refine=BOOL, steps=COUNT),
    *rows(identify.fit_ivae, IVAE, x=_nan_in(Z), steps=COUNT, lr=POSITIVE, batch_size=COUNT, hidden=COUNT),
    *rows(identify.fit_ivae, IVAE, restarts=COUNT, seed=SEED, auxiliary=BOOL, prior_mean=BOOL),
    *rows(identify.fit_ivae, IVAE, latent_dim=hst.one_of(hst.integers(max_value=0), hst.floats(), hst.text())),
    *rows(identify.fit_ivae, IVAE, obs_scale=hst.one_of(hst.floats(max_value=0.0), hst.just(math.inf), hst.text())),
    *rows(metrics.mcc, TWO, z_hat=_nan_in(Z), method=_bad_choice("pearson", "spearman")),
    *rows(metrics.r2, TWO, z_true=_nan_in(Z), kind=KINDS, degree=COUNT, reduce=BOOL),
    *rows(metrics.dci, dict(factors=Z, code=Z), code=_nan_in(Z), ridge=NONNEG, test_fraction=LEVEL),
    *rows(metrics.mig, dict(factors=Z, code=Z), factors=_nan_in(Z), bins=FEW_BINS),
]


@given(row=hst.sampled_from(ROWS), data=hst.data())
def test_one_bad_argument_among_good_ones_is_named(row, data):
    fn, good, arg, bad = row
    value = data.draw(bad, label=f"bad {arg}")
    with pytest.raises(cp.CausalError, match=rf"(?<!\w){re.escape(arg)}(?!\w)"):
        fn(**{**good, arg: value})


@given(graph=st.dags(max_nodes=5), data=hst.data())
def test_one_bad_entry_in_a_good_adjacency_is_named(graph, data):
    adjacency = graph.adjacency().astype(np.float64)
    n = len(graph)
    i, j = data.draw(hst.integers(0, n - 1)), data.draw(hst.integers(0, n - 1))
    adjacency[i, j] = data.draw(hst.one_of(hst.sampled_from([np.nan, np.inf, -1.0, 2.0]), hst.floats(0.01, 0.99)))
    which = data.draw(hst.sampled_from(["graph_true", "graph_hat"]))
    args = {"graph_true": graph.adjacency(), "graph_hat": graph.adjacency(), which: adjacency}
    with pytest.raises(cp.CausalError, match=which):
        metrics.shd(**args)
    with pytest.raises(cp.CausalError, match="adjacency"):
        cp.CausalGraph.from_adjacency(adjacency)
