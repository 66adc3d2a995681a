"""Mechanisms: splines are exact bijections, every returned law has an exact noise form."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.mechanisms import (
    AdditiveNoise,
    AffineFlow,
    CategoricalMechanism,
    LocationScale,
    MechanismBank,
    RootFlow,
    RQSplineTransform,
    SplineFlow,
    rq_spline,
)
from causalppl.mechanisms.spline import spline_param_count
from causalppl.noise import noise_model
from causalppl.testing import strategies as cst

CONTINUOUS = [AdditiveNoise, LocationScale, AffineFlow, SplineFlow]


@given(cst.seeds(), hst.integers(2, 9), hst.floats(0.5, 5.0), hst.floats(0.1, 4.0))
def test_spline_is_a_monotone_bijection_with_exact_log_det(seed, bins, bound, spread):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(200, generator=gen) * 2 - 1) * (bound + 2)  # inside and outside the bound
    params = torch.randn(200, spline_param_count(bins), generator=gen) * spread
    y, logdet = rq_spline(x, params, bound)
    back, inv_logdet = rq_spline(y, params, bound, inverse=True)
    torch.testing.assert_close(back, x, rtol=1e-7, atol=1e-8)
    torch.testing.assert_close(inv_logdet, -logdet, rtol=1e-7, atol=1e-8)
    xr = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(rq_spline(xr, params, bound)[0].sum(), xr)
    torch.testing.assert_close(grad.log(), logdet, rtol=1e-7, atol=1e-8)
    assert (rq_spline(x + 1e-4, params, bound)[0] > y).all()  # increasing, element by element
    outside = x.abs() >= bound
    assert torch.equal(y[outside], x[outside])


def test_zero_spline_parameters_give_the_identity():
    x = torch.linspace(-6, 6, 101)
    y, logdet = rq_spline(x, torch.zeros(spline_param_count(5)), 3.0)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-12)
    torch.testing.assert_close(logdet, torch.zeros(101), rtol=0, atol=1e-12)
    identity = RQSplineTransform(torch.zeros(spline_param_count(5)), 3.0)
    assert float(identity.inv(torch.tensor(0.3))) == pytest.approx(0.3)


@given(
    cst.seeds(),
    hst.lists(hst.integers(0, 4), min_size=1, max_size=5),
    hst.sampled_from([(), (3,), (4, 2)]),
    hst.sampled_from(["tanh", "relu", "silu"]),
)
def test_bank_stacked_evaluation_equals_each_net(seed, fan_in, hidden, activation):
    torch.manual_seed(seed)
    bank = MechanismBank(fan_in, hidden, out_features=3, activation=activation)
    inputs = torch.zeros(len(fan_in), 7, bank.num_inputs)
    for m, p in enumerate(fan_in):
        inputs[m, :, :p] = torch.randn(7, p)
    stacked = bank.forward_stacked(inputs)
    subset = torch.tensor(list(range(len(fan_in)))[::-1])
    reversed_ = bank.forward_stacked(inputs.flip(0), subset)
    for m, p in enumerate(fan_in):
        one = bank.forward_one(m, inputs[m, :, :p])
        torch.testing.assert_close(stacked[m], one, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(reversed_[len(fan_in) - 1 - m], one, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", CONTINUOUS)
@pytest.mark.parametrize("dim", [None, 1, 3])
def test_noise_form_is_exact_for_every_continuous_mechanism(cls, dim):
    torch.manual_seed(0)
    mech = cls(2, dim=dim, hidden=(6,))
    fn = mech(torch.randn(11, 2))
    assert tuple(fn.batch_shape) == (11,)
    assert tuple(fn.event_shape) == (() if dim is None else (dim,))
    x = fn.sample()
    nm = noise_model(fn, "x")
    assert nm.invertible
    u = nm.abduct(x)
    torch.testing.assert_close(nm.push(u), x, rtol=1e-10, atol=1e-10)
    assert tuple(u.shape) == tuple(x.shape)
    assert torch.isfinite(fn.log_prob(x)).all()


@pytest.mark.parametrize("cls", [LocationScale, SplineFlow, AffineFlow, RootFlow])
def test_scalar_densities_integrate_to_one(cls):
    torch.manual_seed(1)
    mech = cls(bins=6) if cls is RootFlow else cls(1, hidden=(5,), **({"bins": 6} if cls is SplineFlow else {}))
    with torch.no_grad():
        for p in mech.parameters():
            p.mul_(3.0)
        fn = mech() if cls is RootFlow else mech(torch.tensor([[0.7]]))
        grid = torch.linspace(-40, 40, 400001)
        density = fn.log_prob(grid.reshape(-1, *([1] if cls is not RootFlow else []))).exp().reshape(-1)
    assert float(torch.trapezoid(density, grid)) == pytest.approx(1.0, abs=1e-4)


def test_vector_flow_density_is_the_change_of_variables():
    torch.manual_seed(2)
    mech = SplineFlow(1, dim=3, bins=4, hidden=(5,))
    with torch.no_grad():
        mech.mix.normal_()
    fn = mech(torch.tensor([0.3]))
    nm = noise_model(fn)
    x = fn.sample()
    jac = torch.autograd.functional.jacobian(nm.push, nm.abduct(x))  # dx/du
    base = dist.Normal(0.0, 1.0).log_prob(nm.abduct(x)).sum()
    expected = base - torch.linalg.slogdet(jac)[1]
    assert float(fn.log_prob(x).detach()) == pytest.approx(float(expected.detach()), abs=1e-9)


def test_categorical_mechanism_is_gumbel_max_and_checks_its_size():
    mech = CategoricalMechanism(2, categories=4, hidden=(5,))
    fn = mech(torch.randn(9, 2))
    assert isinstance(fn, dist.Categorical) and fn.logits.shape == (9, 4)
    assert noise_model(fn).describe() == "GumbelMax(categorical)"
    with pytest.raises(CausalError, match="categories"):
        CategoricalMechanism(2, categories=1)
    with pytest.raises(CausalError, match="scalar"):
        CategoricalMechanism(2, categories=3, dim=2)


def test_parents_as_list_or_tensor_and_wrong_widths():
    mech = AdditiveNoise(2, hidden=(4,))
    a, b = torch.randn(5), torch.randn(5)
    torch.testing.assert_close(mech([a, b]).loc, mech(torch.stack([a, b], -1)).loc)
    torch.testing.assert_close(mech([a, 1.0]).loc, mech(torch.stack([a, torch.ones(5)], -1)).loc)
    with pytest.raises(CausalError, match="2 parent values"):
        mech(torch.randn(5, 3))
    with pytest.raises(CausalError, match="got none"):
        mech()
    with pytest.raises(CausalError, match="dim"):
        AdditiveNoise(1, dim=0)


def test_mechanisms_in_a_hand_written_program_give_exact_counterfactuals():
    torch.manual_seed(3)
    fx, fy = RootFlow(bins=4), SplineFlow(1, bins=4, hidden=(8,))

    def model():
        x = pyro.sample("x", fx())
        return pyro.sample("y", fy([x]))

    assert cp.graph(model).edges == [("x", "y")]
    with torch.no_grad():
        cf = cp.counterfactual(model, evidence={"x": 0.5, "y": -0.2}, do={"x": 1.5}, num_samples=2)
        assert cf.attrs["abduction"] == "exact"
        u = noise_model(fy(torch.tensor([0.5]))).abduct(torch.tensor([-0.2]))
        expected = noise_model(fy(torch.tensor([1.5]))).push(u)
    assert cf.y.sel(world="counterfactual").values == pytest.approx([float(expected)] * 2, abs=1e-10)
    assert math.isfinite(float(cf.y.sel(world="factual")[0]))
