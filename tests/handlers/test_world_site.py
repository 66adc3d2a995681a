"""The steps of a world handler at one site, each on its own (causalppl.handlers.world_site)."""

import math

import pyro.distributions as dist
import pytest
import torch

from causalppl.errors import CausalError, EvidenceError
from causalppl.handlers import world_site
from causalppl.handlers.worlds import WorldsMessenger


def _worlds(worlds=({}, {}), evidence=None, weigh=False):
    """A two-world handler over (world, unit) = dims (-2, -1), ready for the steps."""
    w = WorldsMessenger(list(worlds), evidence=evidence, dim=-2, keep_dims=(-1,), weigh=weigh)
    w.log_weight, w.improbable = torch.zeros(()), {}
    return w


def _msg(name, fn, value=None, observed=False, infer=None):
    return {
        "name": name,
        "fn": fn,
        "value": value,
        "is_observed": observed,
        "infer": infer or {},
        "cond_indep_stack": (),
    }


def _site(loc, scale=1.0, units=3):
    """``Normal(loc, scale)`` over (world=2, unit): ``loc`` [2, units] differs between worlds."""
    return dist.Normal(loc, scale).expand((2, units))


def test_read_refuses_a_site_outside_the_world_plate():
    with pytest.raises(CausalError, match="'y' is not inside the world plate"):
        world_site.read(_msg("y", dist.Normal(torch.zeros(3), 1.0)), _worlds())


def test_read_lays_out_the_shared_noise_shape():
    site = world_site.read(_msg("y", _site(torch.zeros(2, 3))), _worlds())
    assert site.shape == (2, 3) and site.shared_shape == (1, 3) and not site.observed


def test_observe_keeps_the_evidence_and_moves_the_other_world_by_the_change_of_mechanism():
    loc = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0]])  # world 1's parents differ in units 0 and 2
    evidence = {"y": torch.tensor([0.5, 1.5, 2.5])}
    worlds = _worlds(evidence=evidence)
    site = world_site.read(_msg("y", _site(loc, 2.0)), worlds)
    value, u = world_site.observe(site, worlds)
    assert torch.equal(value[0], evidence["y"])
    assert torch.equal(value[1], evidence["y"] + (loc[1] - loc[0]))  # same noise, new location
    noise = u() if callable(u) else u
    torch.testing.assert_close(noise.reshape(3), (evidence["y"] - loc[0]) / 2.0)


def test_impossible_evidence_is_an_error_naming_the_site_or_a_zero_weight():
    law = dist.Uniform(torch.zeros(2, 3), torch.ones(2, 3))
    evidence = {"y": torch.tensor([0.5, 5.0, 0.2])}
    exact = _worlds(evidence=evidence)
    with pytest.raises(EvidenceError, match="'y' is impossible"):
        world_site.observe(world_site.read(_msg("y", law), exact), exact)
    weighed = _worlds(evidence=evidence, weigh=True)
    world_site.observe(world_site.read(_msg("y", law), weighed), weighed)
    assert torch.isneginf(weighed.log_weight).flatten().tolist() == [False, True, False]


def test_deterministic_evidence_must_equal_what_the_parents_compute():
    fn = dist.Delta(torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]]))
    ok = _worlds(evidence={"d": torch.tensor([1.0, 2.0, 3.0])})
    value, _ = world_site.observe(world_site.read(_msg("d", fn), ok), ok)
    assert value[1].tolist() == [1.0, 2.0, 4.0]  # the other world takes its own parents' value
    bad = _worlds(evidence={"d": torch.tensor([1.0, 2.5, 3.0])})
    with pytest.raises(EvidenceError, match="'d' differs"):
        world_site.observe(world_site.read(_msg("d", fn), bad), bad)


def test_act_replaces_only_its_world_and_flags_improbable_targets():
    worlds = _worlds(worlds=({}, {"h": 3.0}))
    site = world_site.read(_msg("h", _site(torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.0, 3.0]]), 1.0)), worlds)
    value = torch.zeros(2, 3)
    out = world_site.act(site, worlds, 1, 3.0, value)
    assert out[0].tolist() == [0.0, 0.0, 0.0] and out[1].tolist() == [3.0, 3.0, 3.0]
    # 3 sd from the law's location is outside its central 99%; at the location it is not
    assert worlds.improbable["h"][1].flatten().tolist() == [True, True, False]


def test_act_applies_a_callable_to_its_worlds_natural_value():
    worlds = _worlds()
    site = world_site.read(_msg("h", _site(torch.zeros(2, 3))), worlds)
    value = torch.arange(6.0).reshape(2, 3)
    out = world_site.act(site, worlds, 1, lambda h: 2 * h, value)
    assert out.tolist() == [[0.0, 1.0, 2.0], [6.0, 8.0, 10.0]]


def test_an_inner_intervention_is_redone_with_the_shared_noise_innermost_first():
    law = _site(torch.tensor([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]))
    infer = {"do": "shift", "do_law": law, "do_actions": (lambda x: x + 1.0, lambda x: 10 * x)}
    worlds = _worlds()
    worlds.given_noise = {"h": torch.full((1, 3), 0.5)}
    site = world_site.read(_msg("h", dist.Delta(torch.zeros(2, 3)).mask(False), torch.zeros(2, 3), True, infer), worlds)
    value, u = world_site.redo_inner_intervention(site, worlds)
    natural = law.loc + 0.5
    assert torch.equal(value, 10 * (natural + 1.0))


def test_world_mask_and_slice():
    worlds = _worlds()
    site = world_site.read(_msg("v", dist.Normal(torch.zeros(2, 3, 4), 1.0).to_event(1)), worlds)
    assert world_site.world_mask(site, worlds, 1).shape == (2, 1, 1)
    t = torch.arange(6.0).reshape(2, 3)
    assert world_site.world_slice(t, -2, 1).tolist() == [[3.0, 4.0, 5.0]]
    assert world_site.world_slice(t[:1], -2, 1).shape == (1, 3)  # a size-1 dim stays


def test_lazy_noise_computes_an_entry_once_when_read():
    calls = []
    noise = world_site.LazyNoise()
    noise["u"] = lambda: calls.append(1) or torch.tensor(math.pi)
    assert float(noise["u"]) == pytest.approx(math.pi) and float(noise["u"]) == pytest.approx(math.pi)
    assert calls == [1] and list(noise) == ["u"] and len(noise) == 1
