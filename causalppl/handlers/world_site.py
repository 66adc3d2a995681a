"""The steps of a world handler at one site, each small enough to test alone.

:func:`read` reads the site (its law, noise form, shapes); :func:`observe` recovers an
observed site's noise and gives each world its value; :func:`act` applies one world's
action; :func:`redo_inner_intervention` re-applies an intervention made inside the program
with the worlds' shared noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import CausalError, EvidenceError, NonInvertibleError
from ..noise import NoiseModel, noise_model
from ..noise.typicality import improbable
from .deterministic import fix_deterministic_event_dim
from .intervention import apply_action
from .values import describe_support, outside_support, site_value

__all__ = ["LazyNoise", "Site", "act", "observe", "read", "redo_inner_intervention", "world_mask", "world_slice"]


@dataclass
class Site:
    """One sample site as a world handler sees it."""

    name: str
    msg: dict
    fn: object
    nm: NoiseModel
    shape: torch.Size  # batch + event
    shared_shape: torch.Size  # batch shape with the world dim at 1: one noise for every world
    event_rank: int
    observed: bool
    inner_do: str | None  # "hard" / "shift" when an intervention inside the program set the site


def read(msg, worlds) -> Site:
    """The site's law and shapes; raises when the site is not inside the world plate."""
    fix_deterministic_event_dim(msg)
    name, fn = msg["name"], msg["fn"]
    batch, event = fn.batch_shape, fn.event_shape
    if len(batch) < -worlds.dim or batch[worlds.dim] != len(worlds.worlds):
        raise CausalError(
            f"site {name!r} is not inside the world plate at dim {worlds.dim}: enter the world "
            "handler outside every plate, at a dim left of all of them"
        )
    inner_do = msg["infer"].get("do")
    law = fn if inner_do is None else msg["infer"]["do_law"].expand(batch)
    shared = list(batch)
    shared[worlds.dim] = 1
    observed = inner_do is None and (name in worlds.evidence or msg["is_observed"])
    return Site(
        name, msg, fn, noise_model(law, name), batch + event, torch.Size(shared), len(event), observed, inner_do
    )


def observe(site: Site, worlds) -> tuple[torch.Tensor, object]:
    """Each world's value of an observed site, and its noise (or a callable computing it)."""
    name, fn, nm = site.name, site.fn, site.nm
    obs = worlds.evidence.get(name, site.msg["value"])
    if not (worlds.checked_evidence and name in worlds.evidence):
        obs = site_value(obs, fn, name, "evidence")
    obs = obs.expand(site.shape)
    if not nm.invertible:
        raise NonInvertibleError(getattr(nm, "why", None) or f"site {name!r} is not invertible")
    here = worlds.evidence_world
    ev_dim = worlds.dim - site.event_rank
    if nm.deterministic:  # no noise to recover: the evidence must be what the parents compute
        pushed = nm.push(None).expand(obs.shape).to(obs.dtype)
        same = torch.isclose(world_slice(pushed, ev_dim, here), world_slice(obs, ev_dim, here), rtol=1e-6, atol=1e-8)
        if site.event_rank:
            same = same.flatten(-site.event_rank).all(-1)
        _weigh_or_raise(site, worlds, ~same, None, "differs from the value its mechanism computes from its parents")
        return torch.where(world_mask(site, worlds, here), obs, pushed), obs.new_zeros(())
    _check_possible(site, worlds, obs)
    abducted = functools.partial(nm.abduct_slice, obs, worlds.dim - len(nm.noise_event_shape), here)
    if obs.is_floating_point():
        # The evidence world keeps the evidence exactly; the others move by the change of mechanism
        # between worlds (exactly zero where parents agree). When that change does not depend on the
        # noise, the noise is abducted only if read.
        shift = nm.noise_free_shift(ev_dim, here)
        u = abducted if shift is not None else abducted()
        return obs + (shift if shift is not None else nm.world_shift(u, ev_dim, here)), u
    u = abducted()
    return torch.where(world_mask(site, worlds, here), obs, nm.push(u)), u


def _check_possible(site: Site, worlds, obs: torch.Tensor) -> None:
    """Evidence a unit's parents cannot produce (outside a parent-dependent support, or of
    probability 0): weight ``-inf`` when weighing, else an error naming the site."""
    fn, here, dim = site.fn, worlds.evidence_world, worlds.dim
    bad = outside_support(obs, fn)
    lp = None
    if worlds.weigh or fn.support.is_discrete:
        # Validation would refuse values outside the support: score a draw there, weigh it -inf.
        safe = obs if bad is None else torch.where(_event_mask(bad, site), fn.sample(), obs)
        lp = world_slice(fn.log_prob(safe), dim, here)
        if bad is not None:
            lp = torch.where(world_slice(bad, dim, here), torch.full_like(lp, -torch.inf), lp)
        if fn.support.is_discrete:
            # torch clamps probabilities to [eps, 1 - eps]: a category of probability 0 given as
            # probs= scores log(eps) rather than -inf, and is as impossible.
            lp = torch.where(lp <= math.log(torch.finfo(lp.dtype).eps) + 1e-6, torch.full_like(lp, -torch.inf), lp)
        bad = torch.isneginf(lp)
    elif bad is not None:
        bad = world_slice(bad, dim, here)
    why = f"outside the support {describe_support(fn.support)}, or of probability 0"
    _weigh_or_raise(site, worlds, bad, lp, f"is impossible under its law given its parents ({why})")


def _event_mask(bad: torch.Tensor, site: Site) -> torch.Tensor:
    """A batch mask broadcast over the site's event dims."""
    return bad.reshape(bad.shape + (1,) * site.event_rank)


def _weigh_or_raise(site: Site, worlds, bad, lp, why: str) -> None:
    if worlds.weigh:
        if lp is None:
            lp = torch.zeros(bad.shape, dtype=torch.get_default_dtype())
        worlds.add_log_weight(torch.where(bad, torch.full_like(lp, -torch.inf), lp))
    elif bad is not None and bool(bad.any()):
        share = float(bad.double().mean())
        raise EvidenceError(f"evidence for site {site.name!r} {why} for {share:.1%} of the units")


def act(site: Site, worlds, world: int, action, value: torch.Tensor) -> torch.Tensor:
    """``value`` with ``world``'s slice replaced by the action's target; records where the
    target is improbable under the site's own law in that world."""
    natural = world_slice(value, worlds.dim - site.event_rank, world)
    target = apply_action(action, natural, site.fn, site.name).to(value.dtype)
    flags = improbable(site.fn, target, site.name)
    if flags is not None:
        worlds.improbable.setdefault(site.name, {})[world] = world_slice(flags, worlds.dim, world)
    return torch.where(world_mask(site, worlds, world), target, value)


def redo_inner_intervention(site: Site, worlds) -> tuple[torch.Tensor, object]:
    """An intervention made inside the program (an inner ``cp.do``), redone with shared noise:
    a hard one keeps its value; a functional one is applied to each world's natural value."""
    msg = site.msg
    if site.inner_do == "hard":
        return msg["value"], msg["value"].new_zeros(())
    u = worlds.given_noise.get(site.name)
    if u is None:
        u = site.nm.noise_dist(site.shared_shape).sample()
    value = site.nm.push(u).expand(site.shape)
    for action in msg["infer"]["do_actions"]:  # nested interventions, innermost first
        value = apply_action(action, value, msg["infer"]["do_law"], site.name)
    return value, u


def world_mask(site: Site, worlds, world: int) -> torch.Tensor:
    """True in ``world``; broadcasts against the site's ``batch + event`` shape."""
    rank = len(site.shape)
    return _mask(rank, rank - site.event_rank + worlds.dim, world, len(worlds.worlds))


@functools.lru_cache(maxsize=256)
def _mask(rank: int, axis: int, world: int, size: int) -> torch.Tensor:
    shape = [1] * rank
    shape[axis] = size
    return (torch.arange(size) == world).reshape(shape)


def world_slice(t: torch.Tensor, dim: int, world: int) -> torch.Tensor:
    """The slice of ``world`` along ``dim`` (kept as a size-1 dim); a size-1 dim stays."""
    return t.narrow(dim, world, 1) if t.dim() >= -dim and t.shape[dim] > 1 else t


class LazyNoise(Mapping):
    """``{site: noise}`` whose entries may be computed on first read (given as callables)."""

    def __init__(self):
        self._items: dict[str, object] = {}

    def __setitem__(self, name: str, value) -> None:
        self._items[name] = value

    def __getitem__(self, name: str) -> torch.Tensor:
        value = self._items[name]
        if callable(value):
            value = self._items[name] = value()
        return value

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
