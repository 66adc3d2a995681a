"""Overlap diagnostics: every query reports, per intervened site with parents, the share of
units whose intervened value is improbable under the site's own law given their parents
(``attrs["extrapolation_<site>"]``), and warns with ``cp.CausalWarning`` above 10%.

The running example is x ~ N(0, 1); h = tanh(1.5 x) + 0.3 e; y = 2 h - x + 0.3 e. A value v of
h is improbable for a unit when |v - tanh(1.5 x)| > z 0.3 with z = 2.576 (the central 99%), so
do(h = 1) flags Phi(atanh(1 - 0.3 z) / 1.5) = 56.1% of the units and do(h = 0) flags
2 Phi(-atanh(0.3 z) / 1.5) = 49.3%; a shift h + 0.3 d flags Phi(d - z) + Phi(-d - z)."""

import math
import re
import warnings

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from scipy.stats import norm

import causalppl as cp

Z = norm.ppf(0.995)
SHARE_H1 = norm.cdf(math.atanh(1 - 0.3 * Z) / 1.5)  # 0.5613
SHARE_H0 = 2 * norm.cdf(-math.atanh(0.3 * Z) / 1.5)  # 0.4935


def shift_share(d):
    return norm.cdf(d - Z) + norm.cdf(-d - Z)


def truth():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(torch.tanh(1.5 * x), 0.3))
    return pyro.sample("y", dist.Normal(2 * h - x, 0.3))


@pytest.fixture(scope="module")
def fitted():
    """4000 units of the true law and a NeuralSCM fitted to them with modest settings."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # module fixtures run before the per-test float64 one
    try:
        ds = cp.sample(truth, 4000, seed=0)
        data = {k: torch.as_tensor(ds[k].values) for k in ("x", "h", "y")}
        torch.manual_seed(0)
        scm = cp.NeuralSCM({"x": [], "h": ["x"], "y": ["x", "h"]}, hidden=(32, 32))
        cp.fit(scm, data, steps=600, lr=1e-2, batch_size=512, seed=0, progress=False)
    finally:
        torch.set_default_dtype(old)
    return scm, data


def _percents(caught):
    """The percentage each CausalWarning gives for site 'h', as fractions."""
    return [int(re.search(r"'h' for (\d+)% of them", str(w.message)).group(1)) / 100 for w in caught]


def test_interventions_on_the_data_support_report_about_one_percent(fitted):
    scm, data = fitted
    # Setting every unit's h to its own observed value: the law's own draws, of which LEVEL = 1% count
    # as improbable (binomial se over 4000 units: 0.0016). No warning (warnings are errors here).
    for model in (truth, scm):
        cf = cp.counterfactual(model, data, {"h": data["h"]}, num_samples=1, seed=0)
        assert cf.attrs["extrapolation_h"] == pytest.approx(0.01, abs=0.01)
    # A root has no parents: no law to be improbable under, nothing reported.
    cf = cp.counterfactual(scm, data, {"x": 3.0}, num_samples=1, seed=0)
    assert not any(k.startswith("extrapolation") for k in cf.attrs)
    assert cp.effect(scm, "y", {"x": 1.0}, {"x": 0.0}, num_samples=1000, seed=0) > 0  # and no warning


@pytest.mark.parametrize("d, warns", [(0.0, False), (1.0, False), (2.0, True)])
def test_shift_interventions_report_the_closed_form_share(d, warns):
    # On the true law: h := h + 0.3 d for 4000 units, 5 draws of h's noise each (se <= 0.004).
    torch.manual_seed(1)
    units = {"x": torch.randn(4000)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cf = cp.counterfactual(truth, units, {"h": lambda h: h + 0.3 * d}, num_samples=5, seed=0)
    assert cf.attrs["extrapolation_h"] == pytest.approx(shift_share(d), abs=0.02)
    assert [w.category for w in caught] == ([cp.CausalWarning] if warns else [])


def test_improbable_categories_are_counted():
    # t ~ Bernoulli(sigmoid(5 z)): do(t = 1) is improbable (P < 1%) where 5 z < logit(0.01), a share
    # Phi(logit(0.01) / 5) = 0.179 of the units (se over 4000 units: 0.006).
    def model():
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        t = pyro.sample("t", dist.Bernoulli(logits=5.0 * z))
        return pyro.sample("y", dist.Normal(t + z, 1.0))

    torch.manual_seed(2)
    with pytest.warns(cp.CausalWarning, match="'t' for 1[6-9]%"):
        cf = cp.counterfactual(model, {"z": torch.randn(4000)}, {"t": 1.0}, num_samples=1, seed=0)
    assert cf.attrs["extrapolation_t"] == pytest.approx(norm.cdf(math.log(0.01 / 0.99) / 5), abs=0.03)


def test_fitted_model_warns_with_the_true_share(fitted):
    # The fitted law of h given x is close to the true one: a few % error in its mean or sd moves
    # the boundary x* by a few hundredths, the share by about 0.01; Monte Carlo adds 0.004 and the
    # message rounds to 1%. Tolerance 0.05.
    scm, data = fitted
    with pytest.warns(cp.CausalWarning) as caught:
        cp.effect(scm, "y", {"h": 1.0}, {"h": 0.0}, num_samples=20000, seed=0)
    assert [w.category for w in caught] == [cp.CausalWarning] * 2
    assert "the do arm" in str(caught[0].message) and "the baseline arm" in str(caught[1].message)
    assert _percents(caught) == pytest.approx([SHARE_H1, SHARE_H0], abs=0.05)
    with pytest.warns(cp.CausalWarning, match=r"do\(h\) .*'h' for \d+%"):
        ds = cp.sample(scm, 20000, do={"h": 1.0}, seed=0)
    assert ds.attrs["extrapolation_h"] == pytest.approx(SHARE_H1, abs=0.05)
    with pytest.warns(cp.CausalWarning, match="'h'"):
        cf = cp.counterfactual(scm, data, {"h": 0.0}, num_samples=1, seed=0)
    assert cf.attrs["extrapolation_h"] == pytest.approx(SHARE_H0, abs=0.05)


def test_the_warning_can_be_filtered(fitted):
    scm, data = fitted
    assert issubclass(cp.CausalWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=cp.CausalWarning)
        ds = cp.sample(scm, 2000, do={"h": 1.0}, seed=0)  # warnings are errors in this suite otherwise
        cp.effect(scm, "y", {"h": 1.0}, {"h": 0.0}, num_samples=2000, seed=0)
        cf = cp.counterfactual(truth, data, {"h": 1.0}, num_samples=1, seed=0)
    assert ds.attrs["extrapolation_h"] > 0.1 and cf.attrs["extrapolation_h"] > 0.1  # still reported


@pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")
def test_batched_and_pyro_paths_report_the_same_fractions(fitted):
    # `lambda: scm()` is a plain Pyro program: no batched paths. Full evidence fixes the fractions
    # exactly; forward samples share the seed (and would agree within 2 binomial se's otherwise).
    scm, data = fitted
    plain = lambda: scm()  # noqa: E731
    for do in ({"h": 1.0}, {"h": 0.0}, {"h": data["h"] + 0.3}):
        batched = cp.counterfactual(scm, data, do, num_samples=1, seed=0).attrs["extrapolation_h"]
        pyro_path = cp.counterfactual(plain, data, do, num_samples=1, seed=0).attrs["extrapolation_h"]
        assert batched == pytest.approx(pyro_path, abs=1 / 4000)
    constant = {"h": lambda h: 1.0 + 0.0 * h}  # functional: cp.sample's Pyro path reports it
    batched, pyro_path = (cp.sample(m, 20000, do=constant, seed=0).attrs["extrapolation_h"] for m in (scm, plain))
    assert batched == pytest.approx(pyro_path, abs=0.02) and batched == pytest.approx(SHARE_H1, abs=0.05)
    shares = []
    for model in (scm, plain):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", cp.CausalWarning)
            cp.effect(model, "y", {"h": 1.0}, {"h": 0.0}, num_samples=20000, seed=0)
        shares.append(_percents(caught))
    assert np.allclose(shares[0], shares[1], atol=0.02)  # se of each share 0.0035


@pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")
def test_sample_reports_hard_interventions_on_both_paths(fitted):
    # A hard do cuts h's parents in the intervened program: the law is read from the model itself.
    scm, _ = fitted
    batched = cp.sample(scm, 20000, do={"h": 1.0}, seed=0).attrs["extrapolation_h"]
    plain = cp.sample(lambda: scm(), 20000, do={"h": 1.0}, seed=0).attrs["extrapolation_h"]
    assert plain == pytest.approx(batched, abs=0.02)  # se of each 0.0035
    assert cp.sample(truth, 20000, do={"h": 1.0}, seed=1).attrs["extrapolation_h"] == pytest.approx(SHARE_H1, abs=0.02)
