"""NeuralSCM as a Pyro program: structure, shapes, units, shared parameters, bad input."""

import numpy as np
import pandas as pd
import pyro
import pytest
import torch
import xarray as xr
from hypothesis import given

import causalppl as cp
from causalppl.errors import CausalError, CyclicGraphError, UnknownSiteError
from causalppl.scm import NeuralSCM
from causalppl.testing import strategies as cst

PARENTS = {"x": [], "c": ["x"], "z": ["x"], "y": ["x", "c", "z"]}
OVERRIDES = {"c": {"kind": "categorical", "categories": 3}, "z": {"kind": "flow", "dim": 2}}


def _draw(scm, n, seed, do=None):
    """``n`` draws of every node as tensors (through the public query)."""
    ds = cp.sample(scm, n, seed=seed, do=do)
    return {v: torch.as_tensor(ds[v].values) for v in scm.nodes}


def _scm(**kw):
    torch.manual_seed(0)
    return NeuralSCM(PARENTS, hidden=(6,), mechanisms=OVERRIDES, **kw)


@given(cst.dags(min_nodes=1, max_nodes=6))
def test_graph_of_the_program_is_the_declared_graph(graph):
    scm = NeuralSCM(graph.parents_dict(), hidden=(3,))
    read = cp.graph(scm)
    assert set(read.edges) == set(graph.edges) and set(read.nodes) == set(graph.nodes)
    assert scm.nodes == graph.nodes
    assert NeuralSCM(graph, hidden=(3,)).nodes == graph.nodes


def test_one_unit_per_run_and_plates_vectorise():
    scm = _scm()
    one = scm()
    assert one["x"].shape == () and one["c"].shape == () and one["z"].shape == (2,) and one["y"].shape == ()
    assert one["c"].dtype == torch.long
    with pyro.plate("unit", 7):
        many = scm()
    assert many["x"].shape == (7,) and many["z"].shape == (7, 2) and many["c"].shape == (7,)
    with pyro.plate("outer", 2, dim=-2), pyro.plate("unit", 7, dim=-1):
        grid = scm()
    assert grid["y"].shape == (2, 7) and grid["z"].shape == (2, 7, 2)


def test_core_queries_and_pyro_infer_apply_unchanged():
    scm = _scm()
    with torch.no_grad():
        ds = cp.sample(scm, 50, do={"x": 2.0, "c": 1}, seed=0)
        assert np.all(ds.x.values == 2.0) and np.all(ds.c.values == 1)
        assert ds.z.dims == ("sample", "z_dim_0")
        cf = cp.counterfactual(scm, evidence={k: v for k, v in scm().items()}, do={"x": 0.0}, num_samples=3)
        assert cf.attrs["abduction"] == "exact"
        pred = pyro.infer.Predictive(scm, num_samples=4)()
        assert pred["y"].shape == (4,)
        g = cp.graph(cp.do(scm, {"c": 0}))
        assert g.parents("c") == []


def test_sites_are_in_data_units():
    torch.manual_seed(1)
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
    data = {"x": 100 + 10 * torch.randn(500), "y": -50 + 0.1 * torch.randn(500)}
    scm.set_standardization(data)
    assert float(scm.feature_loc[0]) == pytest.approx(float(data["x"].mean()))
    assert float(scm.feature_scale[1]) == pytest.approx(float(data["y"].std(unbiased=False)))
    with torch.no_grad():
        fx = scm.node_distribution("x", {})
        b = scm.bank.biases()[0][0, 0]
        assert float(fx.loc) == pytest.approx(float(scm.feature_loc[0] + scm.feature_scale[0] * b))
        s = _draw(scm, 4000, 0)
        # at initialisation the model is a unit-scale law in standardised units: data units are ~ the data's
        assert abs(float(s["x"].mean()) - 100) < 10 * 3
        assert abs(float(s["y"].mean()) + 50) < 0.1 * 5


def test_per_node_mechanisms_are_views_of_the_stacked_parameters():
    scm = _scm(mechanism="location_scale")
    names = [n for n, _ in scm.named_parameters()]
    assert len(names) == len(set(names)) == len(list(scm.parameters()))
    assert len(scm.state_dict()) == len(set(scm.state_dict()))
    mech = scm.mechanism("y")
    assert mech.net is scm.bank
    before = mech(torch.zeros(1, mech.in_features)).loc
    with torch.no_grad():
        scm.bank.weight_0[scm.layout.bank_pos["y"]].add_(1.0)
    after = mech(torch.ones(1, mech.in_features)).loc
    assert not torch.allclose(before, after)


def test_bad_graphs_and_overrides_name_the_culprit():
    with pytest.raises(CyclicGraphError, match="cycle"):
        NeuralSCM({"a": ["b"], "b": ["a"]})
    with pytest.raises(CausalError, match="'w'"):
        NeuralSCM({"a": [], "b": ["w"]})
    with pytest.raises(CausalError, match="'q'"):
        NeuralSCM({"a": []}, mechanisms={"q": "flow"})
    with pytest.raises(CausalError, match="'a'"):
        NeuralSCM({"a": []}, mechanisms={"a": "spline"})
    with pytest.raises(CausalError, match="categories"):
        NeuralSCM({"a": []}, mechanisms={"a": "categorical"})
    with pytest.raises(CausalError, match="mechanism"):
        NeuralSCM({"a": []}, mechanism="categorical")
    with pytest.raises(CausalError, match="hidden"):
        NeuralSCM({"a": []}, hidden=(0,))
    with pytest.raises(CausalError, match="activation"):
        NeuralSCM({"a": []}, activation="gelu")
    with pytest.raises(CausalError, match="no nodes"):
        NeuralSCM({})


def test_log_prob_accepts_dict_dataframe_dataset_and_names_bad_columns():
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=(3,))
    x, y = torch.randn(5), torch.randn(5)
    ref = scm.log_prob({"x": x, "y": y})
    frame = pd.DataFrame({"x": x.numpy(), "y": y.numpy()})
    torch.testing.assert_close(scm.log_prob(frame), ref)
    torch.testing.assert_close(scm.log_prob(xr.Dataset({"x": ("row", x.numpy()), "y": ("row", y.numpy())})), ref)
    with pytest.raises(CausalError, match=r"missing node\(s\) \['y'\]"):
        scm.log_prob({"x": x})
    with pytest.raises(CausalError, match="'w'"):
        scm.log_prob({"x": x, "y": y, "w": y})
    torch.testing.assert_close(scm.log_prob({"x": x, "y": y, "w": y}, ignore_extra=True), ref)
    with pytest.raises(CausalError, match="column 'y' has NaN"):
        scm.log_prob({"x": x, "y": torch.tensor([0.0, float("nan"), 1, 2, 3])})
    with pytest.raises(CausalError, match="column 'x' has shape"):
        scm.log_prob({"x": x.reshape(5, 1), "y": y})
    with pytest.raises(CausalError, match="column 'y' has 4 rows"):
        scm.log_prob({"x": x, "y": y[:4]})
    with pytest.raises(CausalError, match="column 'y' has dtype"):
        scm.log_prob(pd.DataFrame({"x": x.numpy(), "y": ["a"] * 5}))


def test_categorical_columns_are_checked():
    scm = _scm()
    with torch.no_grad():
        data = _draw(scm, 4, 0)
    data["c"] = torch.tensor([0, 1, 2, 3])
    with pytest.raises(CausalError, match="column 'c' is categorical with 3"):
        scm.log_prob(data)
    data["c"] = torch.tensor([0.0, 1.5, 2.0, 1.0])
    with pytest.raises(CausalError, match="column 'c'"):
        scm.log_prob(data)


def test_batched_paths_check_their_arguments():
    scm = _scm()
    paths = scm.batched_paths()
    with pytest.raises(UnknownSiteError, match="'q'"):
        cp.sample(scm, 3, do={"q": 1.0})
    with pytest.raises(CausalError, match="num_samples"):
        cp.sample(scm, 0)
    with pytest.raises(CausalError, match="noise for node 'x'"):
        paths.push({**paths.draw_noise(3), "x": torch.zeros(4)}, {})
    with pytest.raises(CausalError, match="'y'"):
        cp.sample(scm, 3, do={"y": float("nan")})
    with pytest.raises(CausalError, match="'c'"):
        cp.sample(scm, 3, do={"c": 7})  # a category the node does not have
