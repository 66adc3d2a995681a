"""Amortized abduction (``cp.counterfactual(..., guide=)``) against closed forms, on hand-written
programs: a latent code read by a vector "image" site and a scalar outcome, and binary pixels
whose counterfactual follows the Gumbel-max law.

With the exact posterior as the guide, every counterfactual follows the closed-form Gaussian
posterior; with the prior as the guide and ``num_particles`` draws reweighted, the same; the
pixel noise of a location-scale site is kept exactly whatever the guide draws. Monte Carlo
tolerances are about five standard errors."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp

SX = 0.5  # the image's pixel sd
PIXELS = 3
EVIDENCE = {
    "x": torch.tensor([[0.9, 1.3, 0.4], [-0.5, -0.2, -1.0]]),
    "t": torch.tensor([0.7, -1.2]),
    "y": torch.tensor([1.1, 0.3]),
}
T_NEW = torch.tensor([-0.4, 0.8])


def model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    t = pyro.sample("t", dist.Normal(0.0, 1.0))
    loc = (z + 0.5 * t)[..., None].expand(z.shape + (PIXELS,))
    pyro.sample("x", dist.Normal(loc, SX).to_event(1))
    return pyro.sample("y", dist.Normal(z * t, 1.0))


def posterior(x, t, y):
    """z | x, t, y: the precision and mean of a Gaussian (x and y are linear in z given t)."""
    precision = 1.0 + PIXELS / SX**2 + t**2
    return precision, ((x - 0.5 * t[..., None]).sum(-1) / SX**2 + t * y) / precision


def exact_guide(x, t, y):
    with pyro.plate("unit", x.shape[0]):
        precision, mean = posterior(x, t, y)
        return pyro.sample("z", dist.Normal(mean, precision.rsqrt()))


def prior_guide(x, t, y):
    with pyro.plate("unit", x.shape[0]):
        return pyro.sample("z", dist.Normal(torch.zeros_like(t), 1.0))


def expected_y(ev, t_new):
    """y* = z t* + (y - z t): its mean and sd over the posterior of z."""
    precision, mean = posterior(ev["x"], ev["t"], ev["y"])
    return ev["y"] + mean * (t_new - ev["t"]), (t_new - ev["t"]).abs() / precision.sqrt()


def check_answer(cf, ev, samples):
    y_cf = torch.as_tensor(cf.y.sel(world="counterfactual").values)
    mean, sd = expected_y(ev, T_NEW)
    assert torch.allclose(y_cf.mean(0), mean, atol=5 * float(sd.max()) / math.sqrt(samples))
    assert torch.allclose(y_cf.std(0), sd, rtol=0.05)
    # the image's pixel noise is kept exactly: x* = x + 0.5 (t* - t), whatever z was drawn
    x_cf = torch.as_tensor(cf.x.sel(world="counterfactual").values)
    assert torch.allclose(x_cf, (ev["x"] + 0.5 * (T_NEW - ev["t"])[:, None]).expand_as(x_cf), atol=1e-9)
    # z is not downstream of t: one draw per sample, shared by both worlds
    assert torch.equal(
        torch.as_tensor(cf.z.sel(world="factual").values), torch.as_tensor(cf.z.sel(world="counterfactual").values)
    )


def test_the_exact_posterior_as_guide_gives_the_closed_form_counterfactual():
    ev = {k: v.double() for k, v in EVIDENCE.items()}
    cf = cp.counterfactual(model, ev, {"t": T_NEW.double()}, guide=exact_guide, num_samples=20000, seed=0)
    assert cf.attrs["abduction"] == "amortized" and cf.attrs["guide_sites"] == "z"
    check_answer(cf, ev, 20000)


def test_the_prior_as_guide_reweighted_by_num_particles_gives_the_closed_form_counterfactual():
    ev = {k: v.double() for k, v in EVIDENCE.items()}
    cf = cp.counterfactual(
        model, ev, {"t": T_NEW.double()}, guide=prior_guide, num_samples=4000, num_particles=200_000, seed=1
    )
    assert cf.attrs["num_particles"] == 200_000 and 1000 < cf.attrs["ess_min"] < 200_000
    check_answer(cf, ev, 1000)  # resampled: the standard error follows the effective sample size


def test_without_reweighting_the_prior_guide_is_not_the_posterior():
    """The guide is taken at its word unless num_particles asks to weigh it: the answer then
    follows the guide (here the prior), which is why reweighting exists."""
    ev = {k: v.double() for k, v in EVIDENCE.items()}
    cf = cp.counterfactual(model, ev, {"t": T_NEW.double()}, guide=prior_guide, num_samples=20000, seed=0)
    y_cf = torch.as_tensor(cf.y.sel(world="counterfactual").values)
    prior_mean = ev["y"]  # E[z] = 0 under the prior
    assert torch.allclose(y_cf.mean(0), prior_mean, atol=0.05)
    assert not torch.allclose(y_cf.mean(0), expected_y(ev, T_NEW)[0], atol=0.1)


# -- binary pixels: the Gumbel-max counterfactual ---------------------------------------------
OFFSETS = torch.tensor([-1.0, 0.0, 1.0, 2.0])
Z_FIXED = 0.3
N_PIXEL = 20000


def pixel_model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    t = pyro.sample("t", dist.Normal(0.0, 1.0))
    return pyro.sample("px", dist.Bernoulli(logits=(z + 2 * t)[..., None] + OFFSETS).to_event(1))


def fixed_guide(px, t):
    with pyro.plate("unit", t.shape[0]):
        return pyro.sample("z", dist.Delta(torch.full_like(t, Z_FIXED)))


def gumbel_max_probability(observed, logit, logit_new):
    """P(x* = 1 | x): a two-category Gumbel-max law is a logistic threshold, x = 1 iff eps > -logit."""
    s, s_new = torch.sigmoid(logit), torch.sigmoid(logit_new)
    when_one = torch.sigmoid(torch.minimum(logit, logit_new)) / s
    when_zero = (s_new - s).clamp(min=0) / (1 - s)
    return torch.where(observed == 1, when_one, when_zero)


@pytest.mark.parametrize("t_new", [-0.6, 0.9])
def test_binary_pixels_follow_the_gumbel_max_law(t_new):
    t = torch.tensor([0.2, 0.2], dtype=torch.float64)
    px = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
    cf = cp.counterfactual(
        pixel_model, {"t": t, "px": px}, {"t": t_new}, guide=fixed_guide, num_samples=N_PIXEL, seed=2
    )
    assert cf.attrs["abduction"] == "amortized"
    drawn = torch.as_tensor(cf.px.sel(world="counterfactual").values).mean(0)
    logit = (Z_FIXED + 2 * t)[:, None] + OFFSETS
    expected = gumbel_max_probability(px, logit, logit + 2 * (t_new - t)[:, None])
    assert torch.allclose(drawn, expected, atol=5 * 0.5 / math.sqrt(N_PIXEL))
    assert torch.equal(torch.as_tensor(cf.px.sel(world="factual").values[0]), px)
