"""cp.fit: maximum likelihood, SVI with latents, plain Pyro programs, bad input, history."""

import math

import numpy as np
import pandas as pd
import pyro
import pyro.distributions as dist
import pytest
import torch
import xarray as xr

import causalppl as cp
from causalppl.datasets import multiplicative_noise, nonlinear_anm
from causalppl.errors import CausalError
from causalppl.inference import fit
from causalppl.mechanisms import AdditiveNoise
from causalppl.scm import NeuralSCM


def _linear_data(n=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    return {"x": x, "y": 2.0 * x + 1.0 + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)}


def test_history_is_a_labeled_dataset_and_best_parameters_are_restored():
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
    data = _linear_data()
    h = fit(scm, data, steps=200, lr=0.05, eval_every=10, progress=False)
    assert isinstance(h, xr.Dataset) and h.train_loss.dims == ("step",)
    assert set(h.data_vars) == {"train_loss", "heldout_loss", "lr", "heldout_rows"}
    assert h.attrs["method"] == "mle" and h.attrs["n_heldout"] == 40 == h.sizes["heldout"]
    assert np.all(np.diff(h.lr.values) <= 0) and h.lr.values[0] < 0.05  # cosine decay
    rows = torch.as_tensor(h.heldout_rows.values)
    with torch.no_grad():
        held = -float(scm.log_prob({k: v[rows] for k, v in data.items()}).mean())
    assert held == pytest.approx(float(h.heldout_loss.min()), rel=1e-9)
    assert h.heldout_loss.sel(step=h.attrs["best_step"]) == h.heldout_loss.min()
    # the linear-Gaussian SCM recovers y = 2x + 1 + 0.5 U
    with torch.no_grad():
        assert cp.effect(scm, "y", do={"x": 1.0}, baseline={"x": 0.0}) == pytest.approx(2.0, abs=0.1)


def test_early_stopping_and_reproducibility():
    data = _linear_data()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
        runs.append((fit(scm, data, steps=2000, lr=0.05, eval_every=5, patience=2, seed=3, progress=False), scm))
    (h1, s1), (h2, s2) = runs
    assert h1.attrs["stopped_early"] == 1 and h1.step.values[-1] < 2000
    xr.testing.assert_identical(h1.drop_attrs(), h2.drop_attrs())
    assert all(torch.equal(a, b) for a, b in zip(s1.parameters(), s2.parameters()))


def test_dataframe_and_dataset_inputs_fit_like_dicts():
    data = _linear_data()
    frame = pd.DataFrame({k: v.numpy() for k, v in data.items()})
    ds = xr.Dataset({k: ("row", v.numpy()) for k, v in data.items()})
    out = []
    for d in (data, frame, ds):
        torch.manual_seed(0)
        scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
        out.append(fit(scm, d, steps=30, progress=False).train_loss.values)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])


@pytest.mark.parametrize(
    "data, match",
    [
        ({"x": torch.randn(50)}, r"missing node\(s\) \['y'\]"),
        ({"x": torch.randn(50), "y": torch.randn(50), "extra": torch.randn(50)}, "'extra'"),
        ({"x": torch.randn(50), "y": torch.full((50,), math.inf)}, "column 'y' has NaN or inf"),
        ({"x": torch.randn(50, 2), "y": torch.randn(50)}, "column 'x' has shape"),
        ({"x": torch.randn(50), "y": torch.randn(49)}, "column 'y' has 49 rows"),
        (pd.DataFrame({"x": np.zeros(5), "y": ["a"] * 5}), "column 'y' has dtype"),
        ({"x": torch.zeros(5, dtype=torch.complex64), "y": torch.zeros(5)}, "column 'x' has dtype"),
        ([1, 2, 3], "data must be"),
    ],
)
def test_bad_data_names_the_column(data, match):
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
    with pytest.raises(CausalError, match=match):
        fit(scm, data, steps=2, progress=False)


def test_extra_columns_can_be_ignored_explicitly():
    data = dict(_linear_data(), note=torch.zeros(400))
    h = fit(NeuralSCM({"x": [], "y": ["x"]}, hidden=()), data, steps=5, ignore_extra=True, progress=False)
    assert h.sizes["step"] >= 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps"),
        ({"lr": -1.0}, "lr"),
        ({"holdout": 1.0}, "holdout"),
        ({"schedule": "step"}, "schedule"),
        ({"latent": ["q"]}, "'q'"),
        ({"latent": ["x"]}, "declared latent"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(CausalError, match=match):
        fit(NeuralSCM({"x": [], "y": ["x"]}, hidden=()), _linear_data(), progress=False, **kwargs)


def test_nan_loss_is_reported_with_the_step():
    def model():
        a = pyro.param("a", torch.tensor(-1.0))
        pyro.sample("y", dist.Normal(torch.log(a), 1.0, validate_args=False))  # log(-1): NaN

    with pytest.raises(CausalError, match="became nan at step 1"):
        fit(model, {"y": torch.randn(30)}, steps=5, progress=False)


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
    fit(scm, _linear_data(), steps=20, progress=None)  # pytest's stderr is not a terminal
    assert capsys.readouterr().err == ""
    fit(scm, _linear_data(), steps=20, progress=True)
    assert "fit" in capsys.readouterr().err


def test_plain_pyro_program_with_pyromodule_mechanisms():
    torch.manual_seed(0)
    fx, fy = AdditiveNoise(0, hidden=()), AdditiveNoise(1, hidden=())

    def model():
        x = pyro.sample("x", fx())
        return pyro.sample("y", fy([x]))

    h = fit(model, _linear_data(600), steps=400, lr=0.05, progress=False)
    assert h.attrs["method"] == "svi"
    assert h.heldout_loss.values[-1] < h.heldout_loss.values[0]
    with torch.no_grad():
        assert cp.effect(model, "y", do={"x": 1.0}, baseline={"x": 0.0}) == pytest.approx(2.0, abs=0.15)
        assert float(fy.noise_scale()) == pytest.approx(0.5, abs=0.1)


def test_plain_program_with_pyro_params_and_a_latent_site():
    """y = w * z + noise with z latent: SVI learns the marginal sd of y, sqrt(w^2 + s^2)."""

    def model():
        w = pyro.param("w", torch.tensor(0.5))
        s = pyro.param("s", torch.tensor(1.0), constraint=dist.constraints.positive)
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(w * z, s))

    gen = torch.Generator().manual_seed(0)
    y = 3.0 * torch.randn(2000, generator=gen, dtype=torch.float64)
    h = fit(model, {"y": y}, steps=300, lr=0.1, batch_size=512, progress=False)
    assert h.attrs["method"] == "svi"
    w, s = float(pyro.param("w").detach()), float(pyro.param("s").detach())
    assert math.sqrt(w * w + s * s) == pytest.approx(3.0, rel=0.1)
    assert h.heldout_loss.values[-1] == pytest.approx(0.5 * math.log(2 * math.pi * 9) + 0.5, abs=0.1)


def test_neural_scm_with_a_latent_node_goes_through_svi():
    truth_w = 1.5
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1500, generator=gen, dtype=torch.float64)
    h_ = truth_w * x + 0.5 * torch.randn(1500, generator=gen, dtype=torch.float64)
    y = h_ + 0.5 * torch.randn(1500, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    scm = NeuralSCM({"x": [], "h": ["x"], "y": ["h"]}, hidden=())
    hist = fit(scm, {"x": x, "y": y}, latent=["h"], steps=300, lr=0.05, batch_size=1024, progress=False)
    assert hist.attrs["method"] == "svi"
    assert hist.heldout_loss.values[-1] < hist.heldout_loss.values[0]
    with torch.no_grad():
        # the total effect of x on y is identified from (x, y) alone: 1.5
        assert cp.effect(scm, "y", do={"x": 1.0}, baseline={"x": 0.0}) == pytest.approx(truth_w, abs=0.15)
    assert not any(k.startswith("_cp_fit_guide") for k in pyro.get_param_store().keys())


def test_fit_recovers_known_effects_of_a_nonlinear_anm():
    truth = nonlinear_anm()
    data = truth.sample(3000, seed=1)
    torch.manual_seed(0)
    scm = NeuralSCM(truth.graph, hidden=(16, 16))
    fit(scm, data, steps=600, lr=2e-2, batch_size=512, progress=False)
    with torch.no_grad():
        for out, do, base in [
            ("y", {"x": 1.0}, {"x": 0.0}),
            ("h", {"x": 1.0}, {"x": -1.0}),
            ("y", {"h": 0.5}, {"h": -0.5}),
        ]:
            got = cp.effect(scm, out, do=do, baseline=base, num_samples=20000)
            assert got == pytest.approx(truth.effect(out, do, base), abs=0.1), (out, do)


@pytest.mark.slow
def test_flows_beat_additive_noise_on_a_multiplicative_scm():
    truth = multiplicative_noise()
    train, test = truth.sample(3000, seed=2), truth.sample(4000, seed=3)
    scores = {}
    for mech in ("additive", "flow"):
        torch.manual_seed(0)
        scm = NeuralSCM(truth.graph, mechanism=mech, hidden=(16, 16), bins=6)
        fit(scm, train, steps=500, lr=2e-2, progress=False)
        with torch.no_grad():
            scores[mech] = float(scm.log_prob(test).mean())
    # true expected log-density: -2 * 0.5 * log(2 pi e) + (euler_gamma + log 2) / 2 = -2.203
    assert scores["flow"] > scores["additive"] + 0.3
    assert scores["flow"] == pytest.approx(-2.203, abs=0.1)


def test_mixed_node_kinds_fit_by_maximum_likelihood():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(600, generator=gen, dtype=torch.float64)
    c = (x > 0).long() + (x > 1).long()
    z = torch.stack([x + 0.1 * torch.randn(600, generator=gen, dtype=torch.float64), -x], 1)
    y = z[:, 0] * c + 0.3 * torch.randn(600, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    scm = NeuralSCM(
        {"x": [], "c": ["x"], "z": ["x"], "y": ["c", "z"]},
        hidden=(8,),
        mechanisms={"c": {"kind": "categorical", "categories": 3}, "z": {"kind": "flow", "dim": 2}},
    )
    h = fit(scm, {"x": x, "c": c, "z": z, "y": y}, steps=150, lr=0.02, progress=False)
    assert h.attrs["method"] == "mle"
    assert h.heldout_loss.values[-1] < h.heldout_loss.values[0] - 1.0


def test_without_standardisation_the_model_works_in_data_units():
    scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=(), standardize=False)
    fit(scm, _linear_data(), steps=300, lr=0.05, progress=False)
    assert not bool(scm.standardized)
    assert torch.equal(scm.feature_loc, torch.zeros(2)) and torch.equal(scm.feature_scale, torch.ones(2))
    with torch.no_grad():
        assert cp.effect(scm, "y", do={"x": 1.0}, baseline={"x": 0.0}) == pytest.approx(2.0, abs=0.15)


def test_a_latent_categorical_node_is_refused():
    scm = NeuralSCM({"c": [], "y": ["c"]}, hidden=(), mechanisms={"c": {"kind": "categorical", "categories": 2}})
    with pytest.raises(CausalError, match="latent site 'c' is discrete"):
        fit(scm, {"y": torch.randn(50)}, latent=["c"], steps=2, progress=False)
