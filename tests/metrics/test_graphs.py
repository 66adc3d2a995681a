"""SHD, CPDAGs and Markov equivalence classes, against hand counts and brute force."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.metrics import PDAG, as_pdag, cpdag, markov_equivalence_class, shd, shd_cpdag, v_structures
from causalppl.testing import strategies as st


def test_shd_hand_counts_reversal_missing_and_extra_as_one_each():
    truth = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert shd(truth, truth) == 0
    assert shd(truth, {"a": ["b"], "b": [], "c": ["b"], "d": []}) == 1  # a->b reversed
    assert shd(truth, {"a": [], "b": ["a"], "c": [], "d": []}) == 1  # b->c missing
    assert shd(truth, {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}) == 1  # a->d extra
    # reversed a->b, missing b->c, extra c->d and a->c: 4
    assert shd(truth, {"a": ["b"], "b": [], "c": ["a"], "d": ["c"]}) == 4


def test_shd_accepts_every_graph_form():
    g = cp.CausalGraph({"x0": [], "x1": ["x0"], "x2": ["x0", "x1"]})
    adj = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]])  # x1->x2 missing
    assert shd(g, adj) == 1
    assert shd(g.parents_dict(), torch.as_tensor(adj)) == 1
    assert shd(g, adj.tolist()) == 1
    assert shd(as_pdag(g), g) == 0
    assert shd([[0, 1], [0, 0]], [[0, 0], [1, 0]], nodes=["u", "v"]) == 1


def test_shd_bad_input():
    with pytest.raises(CausalError, match="only in graph_true \\['c'\\]"):
        shd({"a": [], "c": []}, {"a": [], "b": []})
    with pytest.raises(CausalError, match="square"):
        shd(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(CausalError, match="self-loop at 'x1'"):
        shd([[0, 0], [0, 1]], [[0, 0], [0, 0]])
    with pytest.raises(CausalError, match="graph_hat must be"):
        shd({"a": []}, object())


@given(a=st.dags(max_nodes=5), data=hst.data())
def test_shd_is_a_metric(a, data):
    b = data.draw(st.dags(min_nodes=len(a), max_nodes=len(a)))
    c = data.draw(st.dags(min_nodes=len(a), max_nodes=len(a)))
    assert shd(a, a) == 0
    assert shd(a, b) == shd(b, a)
    assert (shd(a, b) == 0) == (a == b)
    assert shd(a, c) <= shd(a, b) + shd(b, c)


def _brute_force_class(graph):
    """All DAGs on the same skeleton with the same v-structures (Verma & Pearl 1990)."""
    skeleton = [tuple(sorted(e)) for e in graph.edges]
    target = v_structures(graph)
    members = []
    for flips in itertools.product([False, True], repeat=len(skeleton)):
        edges = [(b, a) if f else (a, b) for (a, b), f in zip(skeleton, flips)]
        parents = {n: [p for p, c in edges if c == n] for n in graph.nodes}
        try:
            g = cp.CausalGraph(parents)
        except CausalError:  # cyclic orientation
            continue
        if v_structures(g) == target:
            members.append(g)
    return members


@given(st.dags(max_nodes=5, max_indegree=4))
def test_cpdag_and_equivalence_class_match_brute_force(graph):
    members = _brute_force_class(graph)
    assert set(markov_equivalence_class(graph)) == set(members)
    essential = cpdag(graph)
    compelled = {e for e in graph.edges if all(e in set(m.edges) for m in members)}
    assert essential.directed == frozenset(compelled)
    assert essential.undirected == frozenset(frozenset(e) for e in graph.edges if e not in compelled)
    for m in members:
        assert shd_cpdag(graph, m) == 0


def test_cpdag_hand_examples():
    collider = {"a": [], "b": [], "c": ["a", "b"]}
    assert cpdag(collider) == PDAG(("a", "b", "c"), frozenset({("a", "c"), ("b", "c")}), frozenset())
    chain = {"a": [], "b": ["a"], "c": ["b"]}
    assert cpdag(chain).directed == frozenset()
    assert len(markov_equivalence_class(chain)) == 3  # a->b->c, a<-b<-c, a<-b->c
    # Meek R1 orients c -> d below the collider.
    assert ("c", "d") in cpdag({"a": [], "b": [], "c": ["a", "b"], "d": ["c"]}).directed
    assert shd_cpdag(collider, chain) == 3


def test_cpdag_rejects_undirected_input():
    with pytest.raises(CausalError, match="already has undirected"):
        cpdag([[0, 1], [1, 0]])
