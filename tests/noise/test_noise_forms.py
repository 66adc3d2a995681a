"""One invariant suite over every registered noise form (the built-in ones and causalppl.nn's).

Each form must: give back the value from the noise it abducts (``push(abduct(x)) == x``);
have a noise prior free of the law's parameters; lay noise and values out in the batch
shapes it is asked for; share one noise across worlds (pushing a world-shared ``u`` through
a law batched over worlds is pushing it through each world's law); and push prior noise to
draws with the law's own mean. A newly registered built-in form without an example here
fails ``test_every_registered_form_has_an_example``.
"""

import math

import pyro.distributions as dist
import pytest
import torch
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution
from torch.distributions import transforms

import causalppl.nn  # noqa: F401 - registers the image likelihoods' forms
from causalppl.nn import DiscretizedLogistic
from causalppl.noise import noise_model, registered


def _pos(t):
    return torch.nn.functional.softplus(t) + 0.2


# name -> (type it is registered under, law built from a parameter source ``p(*event)``)
EXAMPLES = {
    "Normal": (torch.distributions.Normal, lambda p: dist.Normal(p(), _pos(p()))),
    "Laplace": (torch.distributions.Laplace, lambda p: dist.Laplace(p(), _pos(p()))),
    "Cauchy": (torch.distributions.Cauchy, lambda p: dist.Cauchy(p(), _pos(p()))),
    "Gumbel": (torch.distributions.Gumbel, lambda p: dist.Gumbel(p(), _pos(p()))),
    "Logistic": (dist.Logistic, lambda p: dist.Logistic(p(), _pos(p()))),
    "SoftLaplace": (dist.SoftLaplace, lambda p: dist.SoftLaplace(p(), _pos(p()))),
    "StudentT": (torch.distributions.StudentT, lambda p: dist.StudentT(4.0, p(), _pos(p()))),
    "Uniform": (torch.distributions.Uniform, lambda p: _uniform(p(), _pos(p()))),
    "Gamma": (torch.distributions.Gamma, lambda p: dist.Gamma(3.0, _pos(p()))),
    "MultivariateNormal": (
        torch.distributions.MultivariateNormal,
        lambda p: dist.MultivariateNormal(p(2), scale_tril=torch.diag_embed(_pos(p(2))) + torch.tril(p(2, 2), -1)),
    ),
    "Bernoulli": (torch.distributions.Bernoulli, lambda p: dist.Bernoulli(logits=p())),
    "Categorical": (torch.distributions.Categorical, lambda p: dist.Categorical(logits=p(3))),
    "OneHotCategorical": (torch.distributions.OneHotCategorical, lambda p: dist.OneHotCategorical(logits=p(3))),
    "Transformed (LogNormal)": (
        torch.distributions.TransformedDistribution,
        lambda p: dist.TransformedDistribution(dist.Normal(p(), _pos(p())), [transforms.ExpTransform()]),
    ),
    "Independent": (torch.distributions.Independent, lambda p: dist.Normal(p(3), _pos(p(3))).to_event(1)),
    "Masked": (MaskedDistribution, lambda p: dist.Normal(p(), _pos(p())).mask(True)),
    "Expanded": (ExpandedDistribution, lambda p: ExpandedDistribution(dist.Normal(p(), _pos(p())), p().shape)),
    "Delta": (dist.Delta, lambda p: dist.Delta(p())),
    "DiscretizedLogistic": (DiscretizedLogistic, lambda p: DiscretizedLogistic(torch.sigmoid(p()), p() - 3.0, 16, 0)),
}


def _uniform(low, width):
    return dist.Uniform(low, low + width)


class Params:
    """Draws each parameter with a leading ``batch`` shape and keeps it, to rebuild slices."""

    def __init__(self, batch, seed):
        self.batch, self.drawn = tuple(batch), []
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, *event):
        t = torch.randn(self.batch + event, generator=self.gen, dtype=torch.float64)
        self.drawn.append(t)
        return t

    def world(self, w):
        it = iter(self.drawn)
        return lambda *event: next(it)[w]


CASES = pytest.mark.parametrize("name", sorted(EXAMPLES))


def test_every_registered_form_has_an_example():
    covered = {cls for cls, _ in EXAMPLES.values()}
    missing = [
        t.__name__ for t in registered() if t not in covered and t.__module__.startswith(("torch", "pyro", "causalppl"))
    ]
    assert not missing, f"registered noise forms without an invariant example: {missing}"


@CASES
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pushing_the_abducted_noise_gives_back_the_value(name, seed):
    fn = EXAMPLES[name][1](Params((5,), seed))
    nm = noise_model(fn, name)
    torch.manual_seed(seed)
    x = fn.sample()
    if nm.deterministic:
        assert torch.equal(nm.push(None).expand(x.shape), x)
        return
    pushed = nm.push(nm.abduct(x))
    if fn.support.is_discrete or isinstance(fn, DiscretizedLogistic):
        assert torch.equal(pushed.to(x.dtype), x)
    else:
        torch.testing.assert_close(pushed, x, rtol=1e-9, atol=1e-9)


@CASES
def test_the_noise_prior_is_free_of_the_laws_parameters(name):
    a = noise_model(EXAMPLES[name][1](Params((4,), 0)), name).noise_dist(torch.Size([4]))
    b = noise_model(EXAMPLES[name][1](Params((4,), 1)), name).noise_dist(torch.Size([4]))
    u = a.sample()
    assert a.batch_shape == b.batch_shape and a.event_shape == b.event_shape
    torch.testing.assert_close(a.log_prob(u), b.log_prob(u))


@CASES
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
def test_noise_and_values_take_the_batch_shapes_asked_for(name, batch):
    fn = EXAMPLES[name][1](Params(batch, 0))
    nm = noise_model(fn, name)
    u = nm.noise_dist(fn.batch_shape).sample()
    assert u.shape == fn.batch_shape + nm.noise_event_shape
    if not nm.deterministic:
        assert nm.push(u).shape == fn.batch_shape + fn.event_shape


@CASES
def test_one_noise_serves_every_world(name):
    params = Params((2, 3), 0)  # (world, unit): the worlds' parents differ
    fn = EXAMPLES[name][1](params)
    nm = noise_model(fn, name)
    if nm.deterministic:
        return
    u = nm.noise_dist(torch.Size([1, 3])).sample()  # shared: size 1 along the world dim
    both = nm.push(u)
    for w in range(2):
        alone = noise_model(EXAMPLES[name][1](params.world(w)), name).push(u[0])
        torch.testing.assert_close(both[w].to(torch.float64), alone.to(torch.float64))


@CASES
def test_prior_noise_pushes_to_draws_of_the_law(name):
    fn = EXAMPLES[name][1](Params((), 3))
    nm = noise_model(fn, name)
    if nm.deterministic or name in ("Cauchy",):  # no mean to compare
        return
    torch.manual_seed(0)
    n = 40_000
    pushed = nm.push(nm.noise_dist(torch.Size([n])).sample()).to(torch.float64)
    drawn = fn.sample((n,)).to(torch.float64)
    if name == "StudentT":  # heavy tails: compare medians
        assert abs(float(pushed.median() - drawn.median())) < 0.05 * float(fn.scale) + 0.02
        return
    spread = float(drawn.std())
    # two independent means of n draws: their difference has sd spread * sqrt(2 / n); 6 sd
    tolerance = 6 * spread * math.sqrt(2 / n) + 1e-12
    assert torch.allclose(pushed.mean(0), drawn.mean(0), atol=tolerance)
