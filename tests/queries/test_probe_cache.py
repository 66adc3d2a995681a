"""Queries reuse a cached probe of the program, and never answer from a stale one."""

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl.program import info as _program


def _chain():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(2.0 * x, 1.0))


def test_second_query_uses_the_cache_and_gives_the_same_answer():
    _program._CACHE.clear()
    ev = {"x": torch.tensor([0.5, -1.0]), "y": torch.tensor([1.5, 0.0])}
    first = cp.counterfactual(_chain, evidence=ev, do={"x": 0.0}, num_samples=1)
    assert _program.probe(_chain).from_cache
    second = cp.counterfactual(_chain, evidence=ev, do={"x": 0.0}, num_samples=1)
    assert first.equals(second)
    # y' = 2 * 0 + (y - 2x)
    assert torch.allclose(torch.as_tensor(second.y.sel(world="counterfactual").values).squeeze(), ev["y"] - 2 * ev["x"])


def test_a_program_whose_structure_changes_is_probed_again():
    """A global switch adds a site and a plate between calls: the cached probe is stale."""
    state = {"wide": False}

    def model():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        if state["wide"]:
            with pyro.plate("k", 3, dim=-1):
                z = pyro.sample("z", dist.Normal(x, 1.0))
            x = x + z.sum(-1, keepdim=True)
        return pyro.sample("y", dist.Normal(x, 1.0))

    cf = cp.counterfactual(model, evidence={"x": 1.0, "y": 2.0}, do={"x": 0.0}, num_samples=4)
    assert set(cf.data_vars) == {"x", "y"}
    state["wide"] = True
    cf = cp.counterfactual(
        model, evidence={"x": 1.0, "y": 2.0}, do={"x": 0.0}, num_samples=4, abduction="importance", num_particles=200
    )
    assert set(cf.data_vars) == {"x", "y", "z"} and cf.z.dims == ("world", "sample", "k")


def test_a_site_that_changes_shape_is_probed_again():
    state = {"d": 2}

    def model():
        x = pyro.sample("x", dist.Normal(torch.zeros(state["d"]), 1.0).to_event(1))
        return pyro.sample("y", dist.Normal(x.sum(-1), 1.0))

    cp.counterfactual(model, evidence={"x": torch.zeros(2), "y": 0.5}, do={"x": torch.ones(2)}, num_samples=1)
    state["d"] = 3
    cf = cp.counterfactual(model, evidence={"x": torch.zeros(3), "y": 0.5}, do={"x": torch.ones(3)}, num_samples=1)
    assert cf.y.sel(world="counterfactual").item() == pytest.approx(3.5)


def test_a_cached_probe_does_not_hide_bad_input():
    cp.counterfactual(_chain, evidence={"x": 1.0, "y": 0.0}, do={"x": 0.0}, num_samples=1)
    with pytest.raises(cp.CausalError, match="'yy'"):
        cp.counterfactual(_chain, evidence={"x": 1.0, "yy": 0.0}, do={"x": 0.0}, num_samples=1)


def test_models_with_unkeyable_arguments_are_not_cached():
    _program._CACHE.clear()

    def model(data):
        return pyro.sample("y", dist.Normal(data["loc"], 1.0))

    cp.counterfactual(model, evidence={"y": 1.0}, do={}, num_samples=1, model_args=({"loc": 0.0},))
    assert not _program.probe(model, ({"loc": 0.0},)).from_cache
