"""Attribute mechanisms: one line per Deep-SCM attribute, on its support, with exact noise."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.distributions import transforms as T

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.mechanisms import AdditiveNoise, AffineFlow, RootFlow, SplineFlow
from causalppl.nn import AttributeFlow, attribute_flow
from causalppl.noise import noise_model

SUPPORT_CHECK = {
    "real": lambda x: torch.isfinite(x),
    "positive": lambda x: x > 0,
    "unit_interval": lambda x: (x > 0) & (x < 1),
}


@pytest.mark.parametrize("kind", ["spline", "affine", "additive"])
@pytest.mark.parametrize("support", list(SUPPORT_CHECK))
@pytest.mark.parametrize("parents", [0, 2])
def test_attribute_laws_stay_on_their_support_with_exact_noise(kind, support, parents):
    torch.manual_seed(0)
    law = attribute_flow(parents, kind, bins=4, hidden=(8,), support=support, loc=0.5, scale=0.7)
    pa = torch.randn(6, parents) if parents else None
    d = law(pa)
    x = d.sample((3,)) if not parents else d.sample()
    assert x.shape == ((3,) if not parents else (6,))
    assert bool(SUPPORT_CHECK[support](x).all()) and bool(torch.isfinite(d.log_prob(x)).all())
    nm = noise_model(d, "attribute")
    assert nm.invertible
    torch.testing.assert_close(nm.push(nm.abduct(x)), x, rtol=1e-9, atol=1e-12)


def test_the_flow_is_the_mechanism_of_the_library():
    assert isinstance(attribute_flow(0).flow, RootFlow)
    assert isinstance(attribute_flow(1).flow, SplineFlow)
    assert isinstance(attribute_flow(1, "affine").flow, AffineFlow)
    assert isinstance(attribute_flow(2, "additive").flow, AdditiveNoise)
    assert isinstance(attribute_flow(1), AttributeFlow)


def test_positive_support_is_a_log_normal_for_an_additive_root():
    torch.manual_seed(1)
    law = attribute_flow(0, "additive", support="positive", loc=1.0, scale=0.3)
    inner = law.flow.distribution(law.flow.raw(None), 1.0, 0.3)  # the law of log x
    x = torch.tensor([0.5, 2.0, 7.0])
    want = dist.LogNormal(inner.loc, inner.scale).log_prob(x)
    torch.testing.assert_close(law().log_prob(x), want)


def test_a_custom_bijection_maps_onto_an_interval():
    low, high = 2.0, 5.0
    bounded = T.ComposeTransform([T.SigmoidTransform(), T.AffineTransform(low, high - low)])
    torch.manual_seed(2)
    x = attribute_flow(1, support=bounded)(torch.randn(500, 1)).sample()
    assert bool(((x > low) & (x < high)).all())


def test_deep_scm_attributes_give_exact_counterfactuals():
    torch.manual_seed(3)
    thickness_law = attribute_flow(0, support="positive", loc=1.0, scale=0.3)
    intensity_law = attribute_flow(1, support="unit_interval")

    def model():
        t = pyro.sample("thickness", thickness_law())
        return pyro.sample("intensity", intensity_law([t.log()]))

    evidence = {"thickness": torch.tensor([2.0, 3.5]), "intensity": torch.tensor([0.3, 0.8])}
    with torch.no_grad():
        same = cp.counterfactual(model, evidence, {"thickness": evidence["thickness"]}, num_samples=1, seed=0)
        moved = cp.counterfactual(model, evidence, {"thickness": 1.0}, num_samples=1, seed=0)
    assert same.attrs["abduction"] == "exact" == moved.attrs["abduction"]
    null = torch.as_tensor(same.intensity.sel(world="counterfactual").values).reshape(-1)
    torch.testing.assert_close(null, evidence["intensity"])
    cf = torch.as_tensor(moved.intensity.sel(world="counterfactual").values)
    assert bool(((cf > 0) & (cf < 1)).all()) and not torch.allclose(cf.reshape(-1), evidence["intensity"])


def test_an_attribute_law_fits_positive_data():
    torch.manual_seed(4)
    data = dist.LogNormal(1.2, 0.25).sample((512,))
    law = attribute_flow(0, support="positive", bins=4)
    opt = torch.optim.Adam(law.parameters(), lr=0.05)
    with torch.no_grad():
        before = -float(law().log_prob(data).mean())
    for _ in range(150):
        opt.zero_grad()
        loss = -law().log_prob(data).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = -float(law().log_prob(data).mean())
    best = -float(dist.LogNormal(1.2, 0.25).log_prob(data).mean())
    assert after < before and after < best + 0.1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: attribute_flow(-1), "parents"),
        (lambda: attribute_flow(1, "gaussian"), "kind"),
        (lambda: attribute_flow(1, support="bounded"), "support"),
        (lambda: attribute_flow(1, support=T.AbsTransform()), "support"),
        (lambda: attribute_flow(1, scale=0.0), "scale"),
        (lambda: attribute_flow(1, loc=float("inf")), "loc"),
        (lambda: attribute_flow(1, bins=1), "bins"),
        (lambda: attribute_flow(1, hidden=(0,)), "hidden"),
        (lambda: attribute_flow(1, activation="gelu"), "activation"),
        (lambda: attribute_flow(2)(torch.randn(4, 3)), "parent values"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(CausalError, match=match):
        call()
