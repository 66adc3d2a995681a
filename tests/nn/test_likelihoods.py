"""Image likelihoods: log-densities by hand, the bits-per-dimension convention, bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from causalppl.errors import CausalError
from causalppl.nn import BernoulliImage, DiscretizedLogistic, NormalImage, NormalImageLikelihood, bits_per_dim


def test_normal_image_log_prob_by_hand():
    g = torch.Generator().manual_seed(0)
    loc, x = torch.rand(2, 1, 3, 4, generator=g), torch.rand(2, 1, 3, 4, generator=g)
    scale = 0.1 + torch.rand(1, 3, 4, generator=g)
    d = NormalImage(loc, scale)
    assert d.batch_shape == (2,) and d.event_shape == (1, 3, 4)
    z = ((x - loc) / scale).numpy()
    want = (-0.5 * z**2 - np.log(scale.numpy()) - 0.5 * math.log(2 * math.pi)).sum((1, 2, 3))
    np.testing.assert_allclose(d.log_prob(x).numpy(), want, rtol=1e-12)


def test_bernoulli_image_log_prob_by_hand():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 2, 2, 2, generator=g) * 3
    x = (torch.rand(3, 2, 2, 2, generator=g) < 0.5).to(logits.dtype)
    p = 1 / (1 + np.exp(-logits.numpy()))
    want = (x.numpy() * np.log(p) + (1 - x.numpy()) * np.log1p(-p)).sum((1, 2, 3))
    np.testing.assert_allclose(BernoulliImage(logits).log_prob(x).numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("bins", [256, 4])
def test_discretized_logistic_log_prob_by_hand(bins):
    g = torch.Generator().manual_seed(2)
    loc = torch.rand(1, 2, 3, generator=g) * 1.4 - 0.2
    log_scale = torch.randn(1, 2, 3, generator=g) - 2.0
    k = torch.tensor([[[0, 1, bins - 1], [bins // 2, bins - 2, 0]]], dtype=torch.float64)
    x = k / (bins - 1)
    half = 0.5 / (bins - 1)
    cdf = lambda y: stats.logistic.cdf(y, loc.numpy(), np.exp(log_scale.numpy()))  # noqa: E731
    upper = np.where(k.numpy() == bins - 1, 1.0, cdf(x.numpy() + half))
    lower = np.where(k.numpy() == 0, 0.0, cdf(x.numpy() - half))
    want = np.log(upper - lower).sum()
    d = DiscretizedLogistic(loc, log_scale, bins=bins)
    assert d.batch_shape == () and d.event_shape == (1, 2, 3)
    np.testing.assert_allclose(float(d.log_prob(x)), want, rtol=1e-9)


@pytest.mark.parametrize("bins", [2, 16, 256])
def test_discretized_logistic_masses_sum_to_one(bins):
    levels = torch.arange(bins, dtype=torch.float64) / (bins - 1)
    for loc, log_scale in [(0.3, -3.0), (-2.0, 0.5), (0.999, -7.0), (5.0, -1.0)]:
        d = DiscretizedLogistic(torch.tensor(loc).expand(bins), torch.tensor(log_scale), bins=bins, event_dims=0)
        total = torch.logsumexp(d.log_prob(levels), 0)
        assert abs(float(total)) < 1e-10


def test_discretized_logistic_log_prob_is_finite_far_in_the_tails():
    d = DiscretizedLogistic(torch.tensor([0.0, 1.0, 0.5]), torch.tensor(-8.0), event_dims=0)
    lp = d.log_prob(torch.tensor([1.0, 0.0, 0.0]))  # the far-away edge bins
    assert bool(torch.isfinite(lp).all()) and bool((lp < -1000).all())
    # An interior bin 1000s of scales away keeps a finite, exact log-mass (~ -distance).
    far = DiscretizedLogistic(torch.tensor(0.0), torch.tensor(-8.0), event_dims=0).log_prob(torch.tensor(128 / 255))
    assert math.isfinite(float(far)) and float(far) == pytest.approx(
        -(128 / 255 - 0.5 / 255) / math.exp(-8.0), rel=1e-3
    )


def test_bits_per_dim_convention():
    d = 3 * 8 * 8
    # A uniform mass over 256 levels and a uniform density on [0, 1] (256 levels) are both 8 bits.
    assert bits_per_dim(-d * math.log(256), d) == pytest.approx(8.0)
    assert bits_per_dim(0.0, d, levels=256) == pytest.approx(8.0)
    torch.testing.assert_close(
        bits_per_dim(torch.tensor([0.0, -d * math.log(2)]), d, levels=256), torch.tensor([8.0, 9.0])
    )
    # A smooth density's bpd (levels=256) is the bpd of its mass over bins of width 1/256.
    normal = stats.norm(0.5, 0.15)
    k = np.arange(256)
    mass = normal.cdf((k + 1) / 256) - normal.cdf(k / 256)
    x = (k + 0.5) / 256
    w = mass / mass.sum()  # average over data drawn from the binned law
    discrete = bits_per_dim(float((w * np.log(mass)).sum()), 1)
    continuous = bits_per_dim(float((w * normal.logpdf(x)).sum()), 1, levels=256)
    assert continuous == pytest.approx(discrete, abs=1e-4)
    assert abs(continuous - bits_per_dim(float((w * normal.logpdf(x)).sum()), 1)) == pytest.approx(8.0)


def test_normal_image_likelihood_scales():
    loc = torch.zeros(4, 2, 3, 3)
    fixed = NormalImageLikelihood((2, 3, 3), scale=0.2)
    assert float(fixed(loc).scale.max()) == pytest.approx(0.2)
    assert len(list(fixed.parameters())) == 0
    for mode, shape in [("shared", ()), ("channel", (2, 1, 1)), ("pixel", (2, 3, 3))]:
        head = NormalImageLikelihood((2, 3, 3), scale=0.2, learn_scale=mode)
        (param,) = head.parameters()
        assert tuple(param.shape) == shape
        d = head(loc)
        assert float(d.scale.detach().max()) == pytest.approx(0.2, abs=2e-4)  # the 1e-4 floor
        assert torch.autograd.grad(d.log_prob(torch.ones(4, 2, 3, 3)).sum(), param)[0].shape == shape
    head = NormalImageLikelihood((2, 3, 3), scale=0.2, learn_scale="decoder")
    out = torch.cat([torch.ones(4, 2, 3, 3), torch.full((4, 2, 3, 3), 5.0)], -3)
    d = head(out)
    torch.testing.assert_close(d.loc, torch.ones(4, 2, 3, 3))
    assert bool((d.scale > 0.2).all())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: NormalImage(torch.zeros(4, 4), 1.0), "loc"),
        (lambda: NormalImage(torch.zeros(1, 4, 4), -1.0), "scale"),
        (lambda: NormalImage(torch.zeros(1, 4, 4), 1.0).log_prob(torch.zeros(4, 4)), "value"),
        (lambda: NormalImage(torch.zeros(1, 4, 4), 1.0).log_prob(torch.full((1, 4, 4), math.nan)), "value"),
        (lambda: BernoulliImage(torch.zeros(2, 2)), "logits"),
        (lambda: BernoulliImage(torch.zeros(1, 2, 2)).log_prob(torch.full((1, 2, 2), 0.5)), "value"),
        (lambda: BernoulliImage(torch.zeros(1, 2, 2)).log_prob(torch.full((1, 2, 2), 2.0)), "value"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), 0.0).log_prob(torch.full((1, 2, 2), 1.5)), "value"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), 0.0).log_prob(torch.full((1, 2, 2), -0.1)), "value"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), 0.0).log_prob(torch.full((1, 2, 2), 0.3333)), "value"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), 0.0).log_prob(torch.zeros(2, 2)), "value"),
        (lambda: DiscretizedLogistic(torch.zeros(2, 2), 0.0), "loc"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), torch.zeros(3)), "log_scale"),
        (lambda: DiscretizedLogistic(torch.zeros(1, 2, 2), 0.0, bins=1), "bins"),
        (lambda: NormalImageLikelihood((1, 4, 4), learn_scale="per_pixel"), "learn_scale"),
        (lambda: NormalImageLikelihood((1, 4, 4), scale=0.0), "scale"),
        (lambda: NormalImageLikelihood((1, 4, 4), learn_scale="decoder")(torch.zeros(1, 4, 4)), "output"),
        (lambda: bits_per_dim(-1.0, 0), "num_dims"),
        (lambda: bits_per_dim(-1.0, 4, levels=1), "levels"),
        (lambda: bits_per_dim("x", 4), "log_prob"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(CausalError, match=match):
        call()


def test_values_a_quantised_float32_image_holds_are_on_the_grid():
    # 8-bit pixels read as float32 k / 255 sit on the grid up to float32 rounding.
    x = torch.arange(256, dtype=torch.float32) / 255
    d = DiscretizedLogistic(torch.full((256,), 0.5), torch.tensor(-2.0), event_dims=0)
    assert bool(torch.isfinite(d.log_prob(x.double())).all())
    d32 = DiscretizedLogistic(torch.full((256,), 0.5, dtype=torch.float32), torch.tensor(-2.0), event_dims=0)
    assert d32.log_prob(x).dtype == torch.float32
