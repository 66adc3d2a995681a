"""Slice shortcuts of noise models equal the generic computation they replace."""

import pyro.distributions as dist
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hst

from causalppl.noise import noise_model
from causalppl.noise.models import NoiseModel
from causalppl.testing import strategies as cst

WORLD_DIM = -3  # (world, sample, unit)


@hst.composite
def loc_scale_sites(draw):
    """A Normal / Laplace / StudentT site over (world=2, sample, unit) whose loc and scale
    each vary along the world dim, are broadcast along it (stride 0), or lack it."""
    g = torch.Generator().manual_seed(draw(cst.seeds()))
    sample, unit = draw(hst.integers(1, 3)), draw(hst.integers(1, 4))

    def param(positive):
        how = draw(hst.sampled_from(["varies", "broadcast", "missing", "number"]))
        if how == "number":
            return 1.5 if positive else -0.5
        t = torch.randn(2 if how == "varies" else 1, sample, unit, generator=g)
        t = t.exp() if positive else t
        if how == "broadcast":
            t = t.expand(2, sample, unit)
        return t[0] if how == "missing" else t

    loc, scale = param(False), param(True)
    family = draw(hst.sampled_from(["normal", "laplace"]))
    fn = (dist.Normal if family == "normal" else dist.Laplace)(loc, scale).expand((2, sample, unit))
    return fn, torch.randn(1, sample, unit, generator=g)


@given(loc_scale_sites())
def test_location_scale_world_shift_equals_push_difference(site):
    fn, u = site
    nm = noise_model(fn, "y")
    generic = _push_difference(nm, u)
    torch.testing.assert_close(nm.world_shift(u, WORLD_DIM, 0).expand_as(generic), generic, rtol=1e-12, atol=1e-12)


@given(loc_scale_sites())
def test_location_scale_abduct_slice_equals_slicing_the_abduction(site):
    fn, _ = site
    x = fn.sample()
    nm = noise_model(fn, "y")
    generic = NoiseModel.abduct_slice(nm, x, WORLD_DIM, 0)
    torch.testing.assert_close(nm.abduct_slice(x, WORLD_DIM, 0), generic, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", [0, 1])
def test_world_shift_is_zero_on_its_own_slice(index):
    fn = dist.Normal(torch.randn(2, 1, 3), torch.rand(2, 1, 3) + 0.5)
    nm = noise_model(fn, "y")
    shift = nm.world_shift(torch.randn(1, 1, 3), WORLD_DIM, index)
    assert torch.equal(shift.narrow(WORLD_DIM, index, 1), torch.zeros(1, 1, 3))


@given(loc_scale_sites())
def test_a_noise_free_shift_is_the_world_shift(site):
    """Where the world shift of a location-scale site does not depend on the noise (its scale
    is the same in both worlds), the shortcut equals the generic push difference."""
    fn, u = site
    nm = noise_model(fn, "y")
    shift = nm.noise_free_shift(WORLD_DIM, 0)
    generic = _push_difference(nm, u)
    scale = nm.scale
    shared = (
        not isinstance(scale, torch.Tensor)
        or scale.dim() < -WORLD_DIM
        or scale.shape[WORLD_DIM] == 1
        or scale.stride(WORLD_DIM) == 0
    )
    loc_has_world = isinstance(nm.loc, torch.Tensor) and nm.loc.dim() >= -WORLD_DIM
    assert (shift is not None) == (shared and loc_has_world)
    if shift is not None:
        torch.testing.assert_close(shift.expand_as(generic), generic, rtol=1e-12, atol=1e-12)


def _push_difference(nm, u):
    pushed = nm.push(u)
    return pushed - pushed.narrow(WORLD_DIM, 0, 1)
