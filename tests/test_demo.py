"""`causalppl demo --quick` runs end to end and writes readable outputs."""

import io
import os
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
import xarray as xr

import causalppl.demo as demo
from causalppl.cli import main
from causalppl.datasets import load_sachs
from causalppl.scm import load


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out, buf.getvalue()


def test_demo_prints_the_comparison_and_both_queries(quick_run):
    _, text = quick_run
    for phrase in (
        "held-out log-likelihood",
        "total",
        "interventional",
        "counterfactual (exact abduction)",
        "wrote to",
    ):
        assert phrase in text
    data, graph = load_sachs()
    for node in graph.nodes:
        assert node in text


def test_demo_writes_graph_results_and_model(quick_run):
    out, _ = quick_run
    files = set(os.listdir(out))
    assert {
        "heldout_loglik.nc",
        "interventional_effect.nc",
        "counterfactual.nc",
        "history_neural.nc",
        "history_linear.nc",
        "neural_scm.pt",
    } <= files
    assert "sachs_graph.svg" in files or "sachs_graph.dot" in files
    ll = xr.load_dataset(out / "heldout_loglik.nc", engine="scipy")
    assert set(ll.data_vars) == {"neural", "linear"} and ll.sizes["node"] == 11
    assert np.isfinite(ll.neural.values).all()
    cf = xr.load_dataset(out / "counterfactual.nc", engine="scipy")
    assert list(cf.world.values) == ["factual", "counterfactual"] and cf.sizes["unit"] == 5
    assert "p44_42" in cf.data_vars  # '/' is not allowed in netCDF names
    # PKA is intervened on in the counterfactual world and observed in the factual one
    pka = cf.PKA.sel(world="counterfactual").values
    assert np.allclose(pka, float(xr.load_dataset(out / "interventional_effect.nc", engine="scipy").attrs["high"]))
    scm = load(out / "neural_scm.pt")
    data, _ = load_sachs()
    with torch.no_grad():
        lp = scm.log_prob(data.iloc[:10])
    assert torch.isfinite(lp).all()


def test_graph_falls_back_to_dot_source_without_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "has_dot", lambda: False)
    assert demo.main(["--quick", "--steps", "3", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "sachs_graph.dot").read_text()
    assert text.startswith("digraph") and '"PKA" -> "praf"' in text
    assert "sachs_graph.dot" in capsys.readouterr().out
