"""Pendulum: CausalVAE's projection geometry, kept shadow noise, true counterfactuals, measurement."""

import math

import numpy as np
import pyro
import pytest
import torch
from scipy import stats

import causalppl as cp
from causalppl.datasets import Pendulum, pendulum
from causalppl.datasets.pendulum import render_pendulum
from causalppl.errors import CausalError

VARS = ("pendulum", "light", "shadow_length", "shadow_position")


@pytest.fixture(scope="module")
def pd():
    return pendulum(n=300, seed=0)


def projected(theta_deg, phi_deg):
    """The shadow of the pivot-to-tip segment, projected along the light's rays (plain math)."""
    th, ph = math.radians(theta_deg), math.radians(phi_deg)
    pivot, tip = (10.0, 10.5), (10.0 + 9.5 * math.sin(th), 10.5 - 9.5 * math.cos(th))
    ground = [x - (y + 0.8) / math.tan(ph) for x, y in (pivot, tip)]
    return abs(ground[1] - ground[0]), sum(ground) / 2


def test_layout_dtypes_ranges_and_graph(pd):
    d = pd.data
    assert isinstance(pd, Pendulum) and list(d) == ["image", *VARS]
    assert d["image"].shape == (300, 1, 32, 32) and all(d[k].dtype == torch.float32 for k in d)
    assert 0 <= d["image"].min() and d["image"].max() <= 1
    assert d["pendulum"].min() >= -36 and d["pendulum"].max() < 39.6
    assert d["light"].min() >= 54 and d["light"].max() < 133.2 and (d["shadow_length"] >= 0).all()
    assert set(pd.graph.parents("image")) == set(VARS) and pd.graph.parents("shadow_length") == ["pendulum", "light"]
    assert pendulum(n=3, seed=0, size=64).data["image"].shape == (3, 1, 64, 64)


def test_same_seed_same_bits():
    a, b = pendulum(n=20, seed=3), pendulum(n=20, seed=3)
    assert all(torch.equal(a.data[k], b.data[k]) for k in a.data)


def test_shadow_is_the_projection_plus_its_own_noise(pd):
    for i in range(5):
        length, mid = projected(float(pd.data["pendulum"][i]), float(pd.data["light"][i]))
        assert pd.data["shadow_length"][i].item() == pytest.approx(
            max(length, 1e-3) * math.exp(0.1 * pd.noise["shadow_length"][i].item()), abs=1e-4
        )
        assert pd.data["shadow_position"][i].item() == pytest.approx(
            mid + 0.5 * pd.noise["shadow_position"][i].item(), abs=1e-4
        )
    # The noise is real: the shadow is not a function of the two angles.
    u = pd.noise["shadow_position"].numpy()
    assert stats.kstest(u, "norm").pvalue > 0.01 and u.std() > 0.8


def test_counterfactuals_keep_each_units_shadow_noise(pd):
    assert all(torch.equal(v, pd.data[k]) for k, v in pd.counterfactual({}).items())
    cf = pd.counterfactual({"light": 90.0}, index=[0, 1, 2])
    for i in range(3):
        length, mid = projected(float(pd.data["pendulum"][i]), 90.0)
        assert cf["shadow_position"][i].item() == pytest.approx(
            mid + 0.5 * pd.noise["shadow_position"][i].item(), abs=1e-4
        )
    assert torch.equal(cf["pendulum"], pd.data["pendulum"][:3])
    assert torch.equal(cf["image"], render_pendulum(*(cf[k] for k in VARS), pd.noise["pixel_noise"][:3]))
    kept = pd.counterfactual({"shadow_length": lambda s: s + 1.0}, index=[4])
    assert torch.equal(kept["shadow_position"], pd.data["shadow_position"][[4]])


def test_measure_reads_the_variables_back():
    for size, bounds in ((32, (0.2, 0.3, 0.1, 0.06)), (64, (0.1, 0.15, 0.05, 0.05))):
        ds = pendulum(n=300, seed=7, size=size)
        m = ds.measure(ds.data["image"])
        for name, bound in zip(VARS, bounds):
            err = (m[name] - ds.data[name]).abs().numpy()
            assert np.nanmean(err) < bound, (size, name, np.nanmean(err))
            assert np.isnan(err).mean() < 0.02


def test_model_matches_the_dataset(pd):
    assert set(cp.graph(pd.model).edges) == set(pd.graph.edges)

    def units():
        with pyro.plate("unit", 6):
            return pd.model()

    sites = {k: pd.data[k][:6] for k in VARS} | {"pixel_noise": pd.noise["pixel_noise"][:6]}
    image = pyro.poutine.trace(pyro.condition(units, data=sites)).get_trace().nodes["image"]["value"]
    assert torch.equal(image, pd.data["image"][:6])
    ds = cp.sample(pd.model, 4, do={"light": 90.0}, seed=0)
    assert ds.image.shape == (4, 1, 32, 32) and (ds.light == 90.0).all()


def test_the_library_counterfactual_of_the_model_is_the_true_counterfactual(pd):
    idx = torch.arange(4)
    evidence = {k: pd.data[k][idx] for k in pd.data} | {"pixel_noise": pd.noise["pixel_noise"][idx]}
    cf = cp.counterfactual(pd.model, evidence=evidence, do={"light": 90.0}, num_samples=1, seed=0)
    true = pd.counterfactual({"light": 90.0}, index=idx)
    assert cf.attrs["abduction"] == "exact"
    world = cf.sel(world="counterfactual", sample=0)
    for name in ("shadow_length", "shadow_position"):
        torch.testing.assert_close(torch.as_tensor(world[name].values).float(), true[name], rtol=0, atol=1e-4)
    torch.testing.assert_close(torch.as_tensor(world.image.values).float(), true["image"], rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("do", "culprit"),
    [
        ({"pendulum": 95.0}, "pendulum"),
        ({"light": 0.0}, "light"),
        ({"light": 180.0}, "light"),
        ({"shadow_length": -1.0}, "shadow_length"),
        ({"shadow_position": float("inf")}, "shadow_position"),
        ({"image": 0.0}, "image"),
        ({"sun": 1.0}, "sun"),
        ({"light": torch.ones(2)}, "light"),
    ],
)
def test_bad_interventions_name_the_culprit(pd, do, culprit):
    with pytest.raises(CausalError, match=culprit):
        pd.counterfactual(do)


@pytest.mark.parametrize(
    ("kwargs", "culprit"), [({"size": 48}, "size"), ({"size": 32.0}, "size"), ({"n": -2}, "n"), ({"seed": 1.5}, "seed")]
)
def test_bad_arguments_are_named(kwargs, culprit):
    with pytest.raises(CausalError, match=culprit):
        pendulum(**({"n": 2} | kwargs))


def test_bad_measure_input_is_named(pd):
    with pytest.raises(CausalError, match="images"):
        pd.measure(torch.zeros(2, 1, 64, 64))
