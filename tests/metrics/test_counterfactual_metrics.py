"""Counterfactual-image metrics against hand-computed values and a dataset's true counterfactuals."""

import numpy as np
import pytest
import torch

from causalppl.datasets import measure, morpho_digits
from causalppl.errors import CausalError
from causalppl.metrics.counterfactual import (
    effectiveness,
    null_intervention,
    reversibility,
    true_counterfactual_error,
)


@pytest.fixture(scope="module")
def md():
    return morpho_digits(n=40, seed=2)


def truth(md):
    """The dataset's true counterfactual as a counterfactual_fn (evidence is the same units)."""
    return lambda evidence, do: md.counterfactual(do)


def test_effectiveness_by_hand():
    measured = {"thickness": torch.tensor([2.0, 3.0, 5.0]), "intensity": np.array([0.5, 0.5, 0.5])}
    got = effectiveness(measured, {"thickness": 3.0, "intensity": [0.25, 0.5, 1.0]}, scale={"thickness": 2.0})
    assert got == {"thickness": pytest.approx((1 + 0 + 2) / 3 / 2), "intensity": pytest.approx((0.25 + 0 + 0.5) / 3)}


def test_effectiveness_of_true_counterfactuals_is_the_measurement_error(md):
    cf = md.counterfactual({"thickness": 3.5})
    got = effectiveness(measure(cf["image"]), {"thickness": 3.5, "intensity": cf["intensity"]})
    assert got["thickness"] < 0.15 and got["intensity"] < 1e-4


def test_null_intervention_by_hand():
    data = {"image": torch.zeros(3, 1, 2, 2), "x": torch.zeros(3)}
    calls = []

    def fade(evidence, do):  # records the null intervention it gets; adds 0.25 to pixel 0 each call
        calls.append({k: v.clone() for k, v in do.items()})
        image = evidence["image"].clone()
        image[:, 0, 0, 0] += 0.25
        return {"image": image, "x": evidence["x"] + 1}

    got = null_intervention(fade, data, steps=(2, 1))
    # After k calls pixel 0 of 4 is off by 0.25 k: mean L1 = 0.25 k / 4.
    assert got == {1: pytest.approx(0.0625), 2: pytest.approx(0.125)}
    assert torch.equal(calls[1]["x"], torch.ones(3))  # the output became the next evidence


def test_true_counterfactuals_are_sound(md):
    assert null_intervention(truth(md), md.data) == {1: 0.0, 10: 0.0}
    assert reversibility(truth(md), md.data, {"thickness": 4.0}) == 0.0


def test_reversibility_by_hand():
    data = {"image": torch.zeros(2, 1, 1, 2), "x": torch.zeros(2)}

    def lossy(evidence, do):  # the image follows x but keeps 10% of the evidence image's error
        x = torch.as_tensor(do["x"], dtype=torch.float64).expand(2)
        return {"image": x[:, None, None, None].expand(2, 1, 1, 2) + 0.1 * evidence["image"], "x": x}

    # forward: image = 1; back: image = 0 + 0.1 * 1 = 0.1 everywhere.
    assert reversibility(lossy, data, {"x": 1.0}) == pytest.approx(0.1)


def test_true_counterfactual_error_by_hand_and_zero_on_the_truth(md):
    pred = np.array([[[0.0, 1.0]], [[0.5, 0.5]]])
    true = np.array([[[0.0, 0.0]], [[0.5, 0.0]]])
    err = true_counterfactual_error(pred, true)
    assert err["l1_per_unit"].tolist() == [0.5, 0.25] and err["l1"] == 0.375
    assert err["rmse_per_unit"] == pytest.approx([np.sqrt(0.5), np.sqrt(0.125)])
    assert err["rmse"] == pytest.approx((np.sqrt(0.5) + np.sqrt(0.125)) / 2)
    cf = md.counterfactual({"thickness": 2.0})
    zero = true_counterfactual_error(cf["image"], md.counterfactual({"thickness": 2.0})["image"])
    assert zero["l1"] == 0.0 and zero["rmse"] == 0.0
    assert true_counterfactual_error(md.data["image"], cf["image"])["l1"] > 0


def identity(evidence, do):
    return evidence


DATA = {"image": torch.zeros(2, 1, 2, 2), "x": torch.zeros(2)}
BAD = [
    (lambda: effectiveness({"a": [1.0]}, {"b": 1.0}), "b"),
    (lambda: effectiveness({"a": [1.0, 2.0]}, {"a": [1.0]}), "target\\['a'\\]"),
    (lambda: effectiveness({"a": [float("nan")]}, {"a": 1.0}), "measured\\['a'\\]"),
    (lambda: effectiveness({"a": [1.0]}, {"a": 1.0}, scale={"a": 0.0}), "scale\\['a'\\]"),
    (lambda: effectiveness({"a": [1.0]}, {"a": 1.0}, scale={"z": 1.0}), "scale"),
    (lambda: effectiveness([1.0], {"a": 1.0}), "measured"),
    (lambda: effectiveness({"a": [1.0]}, {}), "target"),
    (lambda: null_intervention("fn", DATA), "counterfactual_fn"),
    (lambda: null_intervention(identity, {"x": torch.zeros(2)}), "data"),
    (lambda: null_intervention(identity, DATA, steps=(0,)), "steps"),
    (lambda: null_intervention(identity, DATA, steps=()), "steps"),
    (lambda: null_intervention(identity, DATA, variables=["y"]), "variables"),
    (lambda: null_intervention(lambda ev, do: {"x": 1}, DATA), "counterfactual_fn"),
    (lambda: null_intervention(lambda ev, do: {"image": torch.zeros(2, 4)}, DATA), "counterfactual_fn"),
    (lambda: reversibility(identity, DATA, {"y": 1.0}), "do names \\['y'\\]"),
    (lambda: reversibility(identity, DATA, {}), "do"),
    (lambda: true_counterfactual_error(np.zeros((2, 3)), np.zeros((2, 4))), "predicted_images"),
    (lambda: true_counterfactual_error(np.zeros(3), np.zeros(3)), "predicted_images"),
    (lambda: true_counterfactual_error(np.zeros((1, 2)), np.full((1, 2), np.inf)), "true_images"),
]


@pytest.mark.parametrize(("call", "culprit"), BAD)
def test_bad_input_names_the_argument(call, culprit):
    with pytest.raises(CausalError, match=culprit):
        call()
