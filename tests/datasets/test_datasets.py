"""Bundled Sachs data and the procedural SCMs with known truth."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

from causalppl.datasets import (
    REVERSED_EDGE,
    load_sachs,
    multiplicative_noise,
    nonlinear_anm,
    sachs_consensus_edges,
    tanh_anm,
)
from causalppl.errors import CausalError
from causalppl.testing import strategies as cst


def test_sachs_is_shipped_with_its_attribution():
    from importlib import resources

    readme = resources.files("causalppl.datasets").joinpath("data").joinpath("README.md").read_text()
    assert "Sachs" in readme and "Science 308" in readme and "MIT" in readme


def test_sachs_data_and_consensus_graph():
    raw, graph = load_sachs(log=False)
    logged, graph2 = load_sachs()
    assert isinstance(raw, pd.DataFrame) and raw.shape == (7466, 11)
    assert list(raw.columns) == sorted(raw.columns, key=list(raw.columns).index)  # file order kept
    assert (raw.to_numpy() >= 1).all() and np.isfinite(raw.to_numpy()).all()
    np.testing.assert_allclose(logged.to_numpy(), np.log(raw.to_numpy()))
    assert graph == graph2 and set(graph.nodes) == set(raw.columns)
    edges = sachs_consensus_edges()
    assert len(edges) == 18 and REVERSED_EDGE in edges
    # every consensus edge is kept, the one that closes the cycle PIP3 -> plcg -> PIP2 -> PIP3 reversed
    assert set(graph.edges) == (set(edges) - {REVERSED_EDGE}) | {REVERSED_EDGE[::-1]}
    assert graph.parents("PKA") == [] and "pmek" in graph.descendants("PKA")


@pytest.mark.parametrize("make", [nonlinear_anm, multiplicative_noise, lambda: tanh_anm(8, seed=3)])
def test_known_scms_invert_exactly_and_their_counterfactuals_are_consistent(make):
    truth = make()
    values = truth.sample(200, seed=1)
    noise = truth.abduct(values)
    again = truth.push(noise)
    for v in truth.nodes:
        torch.testing.assert_close(again[v], values[v])
    target = truth.nodes[0]
    cf = truth.counterfactual(values, {target: 0.5})
    assert torch.all(cf[target] == 0.5)
    untouched = set(truth.nodes) - truth.graph.descendants(target) - {target}
    for v in untouched:
        torch.testing.assert_close(cf[v], values[v])


def test_nonlinear_anm_effects_have_closed_forms():
    truth = nonlinear_anm()
    # y = 1.5 sin(1.2 h) + 0.4 x^2 + 0.3 U: do(h) shifts y by 1.5 (sin(1.2 a) - sin(1.2 b)) exactly
    assert truth.effect("y", {"h": 1.0}, {"h": -1.0}) == pytest.approx(3 * math.sin(1.2), abs=1e-12)
    # h = 1.5 tanh(1.5 x) + 0.8 U
    assert truth.effect("h", {"x": 1.0}, {"x": 0.0}) == pytest.approx(1.5 * math.tanh(1.5), abs=1e-12)
    s = truth.sample(100_000, seed=0)
    assert float(s["h"].std()) > 1.0  # wide support for h given x (positivity for do(h))


@given(hst.integers(2, 25), cst.seeds())
def test_tanh_anm_graphs_and_bounded_mechanisms(n, seed):
    truth = tanh_anm(n, seed=seed % 1000)
    assert sorted(truth.nodes, key=lambda s: int(s[1:])) == [f"x{j}" for j in range(n)]
    assert all(int(p[1:]) < int(v[1:]) for v in truth.nodes for p in truth.graph.parents(v))
    assert all(len(truth.graph.parents(v)) <= 3 for v in truth.nodes)
    s = truth.sample(500, seed=seed % 1000)
    for v in truth.nodes:
        bound = 2.0 + 6 * 1.5 if truth.graph.parents(v) else 8 * 1.5
        assert float(s[v].abs().max()) < bound


def test_do_on_an_unknown_node_is_an_error():
    with pytest.raises(CausalError, match="'q'"):
        nonlinear_anm().sample(3, do={"q": 1.0})
