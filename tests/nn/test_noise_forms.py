"""Every image likelihood's noise form: round trip, a parameter-free prior, shapes, counterfactuals."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from scipy import stats

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.nn import BernoulliImage, DiscretizedLogistic, MLPDecoder, NormalImage
from causalppl.noise import noise_model

IMAGE = (2, 3, 4)
LAWS = {  # name: (law of a decoder's output, whether push(abduct(x)) is bit-exact)
    "normal": (lambda out: NormalImage(out, 0.1 + out.abs()), False),
    "bernoulli": (lambda out: BernoulliImage(3 * out), True),
    "logistic": (lambda out: DiscretizedLogistic(out, torch.tensor(-3.0)), True),
    "logistic-16": (lambda out: DiscretizedLogistic(2 * out, -1.0 + out, bins=16), True),
}


def _law(name, seed, batch=(5,), requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    out = torch.rand(*batch, *IMAGE, generator=g).requires_grad_(requires_grad)
    return LAWS[name][0](out), out


@pytest.mark.parametrize("name", LAWS)
def test_push_of_abducted_noise_gives_back_the_value(name):
    torch.manual_seed(0)
    fn, _ = _law(name, seed=1)
    x = fn.sample()
    nm = noise_model(fn, "image")
    assert nm.invertible and not nm.deterministic
    back = nm.push(nm.abduct(x))
    if LAWS[name][1]:
        assert torch.equal(back, x)
    else:
        torch.testing.assert_close(back, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", LAWS)
def test_noise_prior_is_parameter_free(name):
    fn_a, out = _law(name, seed=2, requires_grad=True)
    fn_b, _ = _law(name, seed=3)
    u_prior_a = noise_model(fn_a, "image").noise_dist(fn_a.batch_shape)
    u_prior_b = noise_model(fn_b, "image").noise_dist(fn_b.batch_shape)
    torch.manual_seed(4)
    u = u_prior_a.sample()
    torch.manual_seed(4)
    assert torch.equal(u, u_prior_b.sample())
    assert not u.requires_grad and not u_prior_a.log_prob(u).requires_grad
    torch.testing.assert_close(u_prior_a.log_prob(u), u_prior_b.log_prob(u))


@pytest.mark.parametrize("name", LAWS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 1, 4)])
def test_noise_shapes(name, batch):
    torch.manual_seed(5)
    fn, _ = _law(name, seed=6, batch=batch)
    nm = noise_model(fn, "image")
    assert fn.batch_shape == batch and fn.event_shape == IMAGE
    assert nm.noise_event_shape[:3] == IMAGE
    prior = nm.noise_dist(torch.Size((7, *batch)))
    assert prior.batch_shape == (7, *batch) and prior.event_shape == nm.noise_event_shape
    u = prior.sample()
    x = nm.push(u)
    assert x.shape == (7, *batch, *IMAGE)
    assert bool(fn.support.check(x).all()) and bool(torch.isfinite(fn.log_prob(x)).all())
    assert nm.abduct(x).shape == u.shape
    expanded = fn.expand(torch.Size((7, *batch)))
    assert type(expanded) is type(fn) and expanded.batch_shape == (7, *batch)


@pytest.mark.parametrize("name", ["logistic", "logistic-16", "bernoulli"])
def test_pushed_prior_noise_has_the_law_of_the_site(name):
    # One law, many units: a pixel's level frequencies match the law's masses (chi-square).
    fn, _ = _law(name, seed=7, batch=(1,))
    fn = fn.expand(torch.Size([20000]))
    nm = noise_model(fn, "image")
    torch.manual_seed(8)
    pixel = nm.push(nm.noise_dist(fn.batch_shape).sample())[:, 0, 1, 2]
    values, counts = pixel.unique(return_counts=True)
    expected = _pixel_masses(fn, values) * 20000
    keep = expected > 20  # the well-populated levels
    chi2 = float((((counts[keep] - expected[keep]) ** 2) / expected[keep]).sum())
    assert keep.sum() >= 2 and stats.chi2.sf(chi2, int(keep.sum()) - 1) > 1e-3


def _pixel_masses(fn, values):
    """Mass of each level of pixel (0, 1, 2) under the first unit's law."""
    if isinstance(fn, BernoulliImage):
        p = float(fn.probs[0, 0, 1, 2])
        return torch.tensor([1 - p if v == 0 else p for v in values.tolist()])
    loc, log_scale = fn.loc[0, 0, 1, 2], fn.log_scale[0, 0, 1, 2]
    return DiscretizedLogistic(loc.expand(len(values)), log_scale, fn.bins, event_dims=0).log_prob(values).exp()


def _image_model(name):
    decoder = MLPDecoder(1, IMAGE, hidden=(8,), out_activation="sigmoid")
    law = LAWS[name][0]

    def model():
        t = pyro.sample("t", dist.Normal(0.0, 1.0))
        return pyro.sample("image", law(decoder(t.unsqueeze(-1))))

    return model


@pytest.mark.parametrize("name", LAWS)
def test_counterfactual_keeps_each_units_pixel_noise(name):
    torch.manual_seed(9)
    model = _image_model(name)
    with torch.no_grad(), pyro.plate("unit", 3):
        trace = pyro.poutine.trace(model).get_trace()
    evidence = {"t": trace.nodes["t"]["value"], "image": trace.nodes["image"]["value"]}
    with torch.no_grad():
        same = cp.counterfactual(model, evidence, {"t": evidence["t"]}, num_samples=2, seed=0)
        moved = cp.counterfactual(model, evidence, {"t": evidence["t"] + 2.0}, num_samples=2, seed=0)
    assert same.attrs["abduction"] == "exact" == moved.attrs["abduction"]
    factual = torch.as_tensor(moved.image.sel(world="factual").values)
    image = evidence["image"].expand(factual.shape)
    torch.testing.assert_close(factual, image, rtol=0, atol=1e-12)
    null = torch.as_tensor(same.image.sel(world="counterfactual").values)  # null intervention: nothing moves
    torch.testing.assert_close(null, image, rtol=0, atol=1e-12)
    cf = torch.as_tensor(moved.image.sel(world="counterfactual").values)
    assert not torch.allclose(cf, image)


def test_bad_evidence_for_an_image_site_is_refused():
    model = _image_model("logistic")
    evidence = {"t": torch.zeros(2), "image": torch.full((2, *IMAGE), 0.5 / 255)}
    with pytest.raises(CausalError, match="image"):
        cp.counterfactual(model, evidence, {"t": 1.0}, num_samples=1, seed=0)
    nm = noise_model(DiscretizedLogistic(torch.zeros(IMAGE), 0.0), "image")
    with pytest.raises(CausalError, match="'image'"):
        nm.abduct(torch.full(IMAGE, 2.0))
    with pytest.raises(CausalError, match="is not a category"):
        noise_model(BernoulliImage(torch.zeros(IMAGE)), "image").abduct(torch.full(IMAGE, 0.5))


def test_normal_and_bernoulli_images_use_the_built_in_forms():
    # Each is its base law .to_event(3) with checks: the registered Independent form wraps
    # the location-scale / Gumbel-max form of the base, exactly as for a plain .to_event(3).
    out = torch.rand(2, *IMAGE)
    pairs = [
        (NormalImage(out, 0.5), dist.Normal(out, 0.5).to_event(3)),
        (BernoulliImage(out), dist.Bernoulli(logits=out).to_event(3)),
    ]
    for ours, plain in pairs:
        mine, theirs = noise_model(ours, "image"), noise_model(plain, "image")
        assert type(mine) is type(theirs) and mine.describe() == theirs.describe()
        torch.manual_seed(0)
        x = plain.sample()
        torch.testing.assert_close(ours.log_prob(x), plain.log_prob(x))
        if isinstance(ours, NormalImage):
            torch.testing.assert_close(mine.abduct(x), theirs.abduct(x))
