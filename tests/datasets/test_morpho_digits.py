"""Morpho-digits: determinism, the Deep SCM attribute law, true counterfactuals, morphometry."""

import time

import numpy as np
import pyro
import pytest
import torch
from scipy import stats

import causalppl as cp
from causalppl.datasets import MorphoDigits, RenderedDataset, measure, morpho_digits
from causalppl.datasets.morpho_digits import render_digits
from causalppl.errors import CausalError

STYLE = ("slant", "size", "shift", "jitter", "pixel_noise")


@pytest.fixture(scope="module")
def md():
    return morpho_digits(n=400, seed=0)


def deep_scm_intensity(t, e):
    """Deep SCM's intensity (0-255 scale) divided by 255, written out independently."""
    return (64.0 + 191.0 / (1.0 + torch.exp(-(2.0 * (t - 2.5) + 0.5 * e)))) / 255.0


def rerender(md, idx, **values):
    v = {k: md.data[k][idx] for k in md.variables} | values
    return render_digits(v["digit"], v["thickness"], v["intensity"], *(md.noise[k][idx] for k in STYLE))


def test_layout_dtypes_and_ranges(md):
    d = md.data
    assert isinstance(md, MorphoDigits) and isinstance(md, RenderedDataset) and len(md) == 400
    assert list(d) == ["image", "digit", "thickness", "intensity"]
    assert d["image"].shape == (400, 1, 28, 28) and d["image"].dtype == torch.float32
    assert d["thickness"].dtype == d["intensity"].dtype == torch.float32 and d["digit"].dtype == torch.int64
    assert 0 <= d["image"].min() and d["image"].max() <= 1
    assert (d["thickness"] > 0.5).all() and (d["intensity"] > 64 / 255 - 1e-6).all() and (d["intensity"] <= 1).all()
    assert set(d["digit"].tolist()) == set(range(10))
    assert set(md.graph.edges) == {
        ("digit", "image"),
        ("thickness", "intensity"),
        ("thickness", "image"),
        ("intensity", "image"),
    }


def test_same_seed_same_bits_other_seed_differs():
    a, b, c = morpho_digits(n=30, seed=5), morpho_digits(n=30, seed=5), morpho_digits(n=30, seed=6)
    assert all(torch.equal(a.data[k], b.data[k]) for k in a.data)
    assert all(torch.equal(a.noise[k], b.noise[k]) for k in a.noise)
    assert not torch.equal(a.data["thickness"], c.data["thickness"])


def test_empty_intervention_is_the_data_exactly(md):
    cf = md.counterfactual({})
    assert list(cf) == list(md.data) and all(torch.equal(cf[k], md.data[k]) for k in cf)
    idx = torch.tensor([5, 3, 5])
    sub = md.counterfactual({}, index=idx)
    assert all(torch.equal(sub[k], md.data[k][idx]) for k in sub)


def test_factual_images_are_their_noise_rendered_again_alone_or_in_any_batch(md):
    idx = torch.arange(0, 400, 37)
    assert torch.equal(rerender(md, idx), md.data["image"][idx])
    assert torch.equal(rerender(md, idx[3:4]), md.data["image"][idx[3:4]])


def test_do_thickness_moves_intensity_through_the_scm_and_keeps_everything_else(md):
    idx = torch.arange(50)
    cf = md.counterfactual({"thickness": 3.0}, index=idx)
    assert torch.equal(cf["thickness"], torch.full((50,), 3.0))
    assert torch.equal(cf["digit"], md.data["digit"][idx])
    expected = deep_scm_intensity(torch.tensor(3.0), md.noise["intensity"][idx])  # the unit's own noise
    torch.testing.assert_close(cf["intensity"], expected, rtol=0, atol=2e-6)
    assert torch.equal(cf["image"], rerender(md, idx, thickness=cf["thickness"], intensity=cf["intensity"]))
    far = (md.data["thickness"][idx] - 3.0).abs() > 0.5
    assert (cf["image"] - md.data["image"][idx]).abs().amax((1, 2, 3))[far].min() > 0.1
    assert (measure(cf["image"])["thickness"] - 3.0).abs().mean() < 0.15


def test_do_intensity_leaves_thickness_and_digit(md):
    cf = md.counterfactual({"intensity": lambda i: i / 2}, index=[1, 2])
    assert torch.equal(cf["thickness"], md.data["thickness"][[1, 2]])
    assert torch.equal(cf["intensity"], md.data["intensity"][[1, 2]] / 2)
    torch.testing.assert_close(measure(cf["image"])["intensity"], cf["intensity"], rtol=0, atol=1e-4)


def test_do_digit_keeps_style_and_attributes(md):
    cf = md.counterfactual({"digit": torch.arange(10)}, index=torch.arange(10))
    assert torch.equal(cf["digit"], torch.arange(10))
    assert torch.equal(cf["thickness"], md.data["thickness"][:10])
    assert torch.equal(cf["image"], rerender(md, torch.arange(10), digit=torch.arange(10)))


def test_per_unit_values_one_per_selected_unit_or_per_dataset_unit(md):
    t = md.data["thickness"] + 1
    whole = md.counterfactual({"thickness": t})
    part = md.counterfactual({"thickness": t}, index=[7, 9])
    aligned = md.counterfactual({"thickness": t[[7, 9]]}, index=[7, 9])
    assert all(torch.equal(part[k], whole[k][[7, 9]]) and torch.equal(part[k], aligned[k]) for k in part)


def test_attribute_marginals_follow_deep_scm():
    data = morpho_digits(n=4000, seed=1).data
    t, i = data["thickness"].double(), data["intensity"].double()
    # 4000 draws: the mean of t has sd 0.63 / sqrt(4000) = 0.01, so 0.04 is 4 sds.
    assert abs(t.mean().item() - 2.5) < 0.04 and abs(t.std().item() - 10**0.5 / 5) < 0.03
    assert stats.kstest(t.numpy() - 0.5, stats.gamma(a=10, scale=1 / 5).cdf).pvalue > 0.01
    e = (torch.logit((255 * i - 64) / 191) - 2 * (t - 2.5)) / 0.5  # the intensity noise, recovered
    assert stats.kstest(e.numpy(), "norm").pvalue > 0.01
    counts = torch.bincount(data["digit"], minlength=10).numpy()
    assert stats.chisquare(counts).pvalue > 0.01


def test_measure_reads_factual_thickness_and_intensity_back():
    data = morpho_digits(n=500, seed=7).data
    m = measure(data["image"])
    err_t = (m["thickness"] - data["thickness"]).abs().numpy()
    err_i = (m["intensity"] - data["intensity"]).abs().numpy()
    # The numbers in measure's docstring: thickness 0.07 mean / 0.2 p95, intensity < 1e-5.
    assert err_t.mean() < 0.09 and np.percentile(err_t, 95) < 0.25
    assert err_i.mean() < 1e-5 and err_i.max() < 1e-4
    thin = data["thickness"] < 1.5  # the documented upward bias on thin strokes
    assert (m["thickness"] - data["thickness"])[thin].mean() > 0.05
    raw = measure(data["image"][:20], calibrated=False)["thickness"]
    assert not torch.equal(raw, m["thickness"][:20])


def test_measure_of_a_blank_image_is_nan_without_warnings():
    m = measure(torch.zeros(2, 1, 28, 28))
    assert torch.isnan(m["thickness"]).all() and torch.isnan(m["intensity"]).all()


def test_model_is_a_plain_pyro_program_with_the_dataset_graph(md):
    assert set(cp.graph(md.model).edges) == set(md.graph.edges)
    noise_graph = cp.graph(md.model, include_noise=True)
    assert set(STYLE) <= noise_graph.exogenous and all(noise_graph.children(s) == ["image"] for s in STYLE)
    ds = cp.sample(md.model, 6, do={"thickness": 3.0}, seed=0)
    assert ds.image.shape == (6, 1, 28, 28) and (ds.thickness == 3.0).all()


def test_model_vectorised_over_units_reproduces_the_data_from_the_same_noise(md):
    idx = torch.arange(12)

    def units():
        with pyro.plate("unit", 12):
            return md.model()

    sites = {k: md.data[k][idx] for k in md.variables} | {k: md.noise[k][idx] for k in STYLE}
    image = pyro.poutine.trace(pyro.condition(units, data=sites)).get_trace().nodes["image"]["value"]
    assert torch.equal(image, md.data["image"][idx])
    assert cp.sample(units, 2, seed=0).image.dims[:2] == ("sample", "unit")


def test_the_library_counterfactual_of_the_model_is_the_true_counterfactual(md):
    idx = torch.arange(3)
    evidence = {k: md.data[k][idx] for k in md.data} | {k: md.noise[k][idx] for k in STYLE}
    cf = cp.counterfactual(md.model, evidence=evidence, do={"thickness": 3.0}, num_samples=1, seed=0)
    true = md.counterfactual({"thickness": 3.0}, index=idx)
    assert cf.attrs["abduction"] == "exact"
    world = cf.sel(world="counterfactual", sample=0)
    torch.testing.assert_close(torch.as_tensor(world.intensity.values).float(), true["intensity"], rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.as_tensor(world.image.values).float(), true["image"], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_ten_thousand_units_render_in_seconds():
    start = time.perf_counter()
    md = morpho_digits(n=10_000, seed=0)
    assert time.perf_counter() - start < 20 and md.data["image"].shape[0] == 10_000


BAD_DO = [
    ({"colour": 1.0}, "colour"),
    ({"image": torch.zeros(400, 1, 28, 28)}, "image"),
    ({"thickness": 0.0}, "thickness"),
    ({"thickness": -1.0}, "thickness"),
    ({"thickness": float("nan")}, "thickness"),
    ({"thickness": "thick"}, "thickness"),
    ({"thickness": True}, "thickness"),
    ({"thickness": torch.ones(3)}, "thickness"),
    ({"thickness": lambda t: t[:2]}, "thickness"),
    ({"intensity": 1.5}, "intensity"),
    ({"intensity": 0.0}, "intensity"),
    ({"digit": 10}, "digit"),
    ({"digit": -1}, "digit"),
    ({"digit": 2.0}, "digit"),
    ([("thickness", 2.0)], "do"),
]


@pytest.mark.parametrize(("do", "culprit"), BAD_DO)
def test_bad_interventions_name_the_culprit(md, do, culprit):
    with pytest.raises(CausalError, match=culprit):
        md.counterfactual(do)


@pytest.mark.parametrize("index", [[400], [-1], [[0, 1]], 3, [0.5], "0", torch.tensor([True, False])])
def test_bad_index_is_named(md, index):
    with pytest.raises(CausalError, match="index"):
        md.counterfactual({}, index=index)


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [({"n": 0}, "n"), ({"n": 2.5}, "n"), ({"n": True}, "n"), ({"seed": -1}, "seed"), ({"seed": "a"}, "seed")],
)
def test_bad_arguments_are_named(kwargs, culprit):
    with pytest.raises(CausalError, match=culprit):
        morpho_digits(**({"n": 2} | kwargs))


def test_the_model_under_an_out_of_range_digit_names_it():
    with pytest.raises(CausalError, match="digit"):
        cp.sample(cp.do(morpho_digits(n=1).model, {"digit": 12}), 2, seed=0)


@pytest.mark.parametrize(
    ("images", "culprit"),
    [
        (torch.zeros(2, 3, 28, 28), "images"),
        (torch.full((1, 28, 28), float("nan")), "images"),
        ("img", "images"),
        (torch.zeros(2, 1, 28, 28), "calibrated"),
    ],
)
def test_bad_measure_input_is_named(images, culprit):
    with pytest.raises(CausalError, match=culprit):
        measure(images, calibrated=1) if culprit == "calibrated" else measure(images)
