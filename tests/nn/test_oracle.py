"""Pseudo-oracles: trained readers of attributes, their held-out error, their use for
effectiveness, and bad input."""

import pytest
import torch

from causalppl import datasets, nn
from causalppl.errors import CausalError
from causalppl.metrics import counterfactual as cfm

ATTRIBUTES = ["thickness", "intensity", "digit"]


@pytest.fixture(scope="module")
def md():
    return datasets.morpho_digits(n=1500, seed=0)


@pytest.fixture(scope="module")
def oracle(md):
    return nn.pseudo_oracle(md.data, ATTRIBUTES, network="mlp", hidden=(128,), steps=400, seed=0)


def test_the_oracle_reads_attributes_and_reports_its_held_out_error(md, oracle):
    held = slice(1350, 1500)  # the last 10% of the units
    read = oracle(md.data["image"][held])
    sd = {k: float(md.data[k][:1350].double().std()) for k in ("thickness", "intensity")}
    for name, s in sd.items():
        error = float((read[name] - md.data[name][held]).abs().double().mean()) / s
        assert error == pytest.approx(oracle.heldout_error[name], rel=1e-6)
        assert error < 0.4, name  # a constant guess is off by about 0.8 sd
    assert read["digit"].dtype == torch.int64
    wrong = (read["digit"] != md.data["digit"][held]).double().mean()
    assert oracle.heldout_error["digit"] == pytest.approx(float(wrong))
    assert oracle.heldout_error["digit"] < 0.1  # chance is 0.9


def test_oracle_readings_of_the_true_counterfactuals_are_effective(md, oracle):
    units = torch.arange(1350, 1500)
    t_new = md.data["thickness"][units][torch.randperm(150, generator=torch.Generator().manual_seed(0))]
    truth = md.counterfactual({"thickness": t_new}, index=units)
    scale = {"thickness": float(md.data["thickness"].double().std())}
    on_truth = cfm.effectiveness(oracle(truth["image"]), {"thickness": t_new}, scale=scale)
    unchanged = cfm.effectiveness(oracle(md.data["image"][units]), {"thickness": t_new}, scale=scale)
    assert on_truth["thickness"] < 0.4 < unchanged["thickness"]


def test_a_seed_gives_the_same_oracle(md):
    a, b = (nn.pseudo_oracle(md.data, ["intensity"], network="mlp", hidden=(8,), steps=5, seed=3) for _ in range(2))
    assert a.heldout_error == b.heldout_error


def _data(md, **changes):
    data = {k: v[:40] for k, v in md.data.items()}
    data.update({k: v(data) if callable(v) else v for k, v in changes.items()})
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    "changes, options, match",
    [
        ({"image": None}, {}, "data must hold 'image'"),
        ({"image": lambda d: d["image"][:, 0]}, {}, "data\\['image'\\] must be a float tensor .* at least 4 dims"),
        ({"image": lambda d: d["image"][None]}, {}, "data\\['image'\\] must be \\[n, C, H, W\\]"),
        ({"image": lambda d: d["image"] * float("nan")}, {}, "data\\['image'\\] contains NaN"),
        ({"thickness": None}, {}, "attribute 'thickness' is not in data"),
        ({"thickness": lambda d: d["thickness"][:5]}, {}, "data\\['thickness'\\] must be a real or integer tensor"),
        ({"thickness": lambda d: d["thickness"] * float("inf")}, {}, "data\\['thickness'\\] contains NaN or inf"),
        ({"digit": lambda d: d["digit"] - 1}, {}, "data\\['digit'\\] is a label"),
        ({"thickness": lambda d: torch.ones(40)}, {}, "attribute 'thickness' is constant"),
        ({}, {"attributes": ["thickness", "thickness"]}, "attributes names 'thickness' more than once"),
        ({}, {"network": "resnet"}, "network"),
        ({}, {"holdout": 1.0}, "holdout"),
        ({}, {"holdout": 0.001}, "holdout=0.001 leaves 40 training and 0 held-out"),
        ({}, {"steps": 0}, "steps"),
        ({}, {"lr": -1.0}, "lr"),
    ],
)
def test_bad_input_names_the_culprit(md, changes, options, match):
    kw = {"attributes": ATTRIBUTES, "network": "mlp", "hidden": (4,), "steps": 1, "seed": 0, **options}
    with pytest.raises(CausalError, match=match):
        nn.pseudo_oracle(_data(md, **changes), **kw)


def test_images_of_the_wrong_shape_are_refused_when_read(md, oracle):
    with pytest.raises(CausalError, match="images must be a float tensor"):
        oracle(md.data["image"][:2, :, :14])
