"""Graphs: reading the DAG of a program, mutilation, twin networks, rendering."""

import shutil

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl.graph import has_dot


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(x, 1.0))
    return pyro.sample("y", dist.Normal(x + h, 1.0))


def test_graph_of_program():
    g = cp.graph(model)
    assert g.nodes == ["x", "h", "y"]
    assert g.edges == [("x", "h"), ("x", "y"), ("h", "y")]
    assert g.parents("y") == ["x", "h"] and g.children("x") == ["h", "y"]
    assert g.ancestors("y") == {"x", "h"} and g.descendants("x") == {"h", "y"}
    assert g.levels() == [["x"], ["h"], ["y"]]


def test_do_mutilates_but_shift_keeps_edges():
    assert cp.graph(cp.do(model, {"h": 2.0})).edges == [("x", "y"), ("h", "y")]
    assert cp.graph(cp.do(model, {"h": lambda h: h + 1})).edges == cp.graph(model).edges
    assert cp.graph(cp.do(model, {"h": 2.0})).intervened == {"h"}


def test_explicit_noise_sites_are_exogenous():
    def noisy():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        u = pyro.sample("u_y", dist.Normal(0.0, 1.0))
        return pyro.deterministic("y", 2 * x + u)

    assert cp.graph(noisy).edges == [("x", "y")]
    full = cp.graph(noisy, include_noise=True)
    assert set(full.edges) == {("x", "y"), ("u_y", "y")} and full.exogenous == {"u_y"}


def test_exogenous_flag_and_plates_and_control_flow():
    def m():
        a = pyro.sample("a", dist.Normal(0.0, 1.0), infer={"exogenous": False})
        with pyro.plate("p", 3):
            b = pyro.sample("b", dist.Normal(a, 1.0))
        c = pyro.sample("c", dist.Normal(b.sum(), 1.0)) if a > -100 else None
        return c

    assert cp.graph(m).edges == [("a", "b"), ("b", "c")]


def test_discrete_and_flow_parents():
    from pyro.distributions.transforms import AffineTransform

    def m():
        t = pyro.sample("t", dist.Categorical(torch.tensor([0.5, 0.5])))
        z = pyro.sample("z", dist.TransformedDistribution(dist.Normal(0.0, 1.0), [AffineTransform(t.double(), 2.0)]))
        return pyro.sample("y", dist.Bernoulli(logits=z))

    assert cp.graph(m).edges == [("t", "z"), ("z", "y")]


def test_twin_network_shares_noise():
    tw = cp.graph(model).twin_network(["h"])
    assert set(tw.parents("y*")) == {"x*", "h*", "U_y"}
    assert set(tw.parents("y")) == {"x", "h", "U_y"}
    assert tw.parents("h*") == [] and "h*" in tw.intervened
    assert tw.exogenous == {"U_x", "U_h", "U_y"}
    dot = tw.to_dot()
    assert '"U_y" -> "y*" [style=dashed];' in dot and '"h*" [shape=box' in dot


def test_to_dot_and_equality_and_adjacency():
    g = cp.graph(model)
    dot = g.to_dot()
    assert dot.startswith('digraph "G" {') and '"x" -> "h";' in dot
    assert g == cp.CausalGraph({"y": ["x", "h"], "h": ["x"], "x": []})
    assert cp.CausalGraph.from_adjacency(g.adjacency(), g.nodes) == g


@pytest.mark.skipif(not has_dot(), reason="graphviz 'dot' binary not installed")
def test_render_svg(tmp_path):
    path = cp.graph(model).render(str(tmp_path / "g"), format="svg")
    with open(path) as f:
        assert path.endswith(".svg") and f.read().lstrip().startswith("<?xml")


def test_render_without_dot_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="to_dot"):
        cp.graph(model).render(str(tmp_path / "g"))
