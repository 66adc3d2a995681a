"""Worlds that share noise: the base handler of twin and paired worlds.

A :class:`WorldsMessenger` runs a program once in ``K`` worlds, batched along a
``pyro.plate("world", K)``. Every site's exogenous noise ``u`` is drawn (or abducted from
evidence) once and pushed through each world's mechanism, so the worlds differ only
downstream of the interventions that world applies. The site hook is a sequence of small
steps, each in :mod:`.world_site`: read the site, recover or draw its noise, apply each
world's action, weigh the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyro
import torch
from pyro.poutine.util import site_is_subsample

from ..errors import CausalError
from . import world_site
from ._factory import SiteCheckingMessenger
from .intervention import check_actions

__all__ = ["WorldsMessenger"]


class WorldsMessenger(SiteCheckingMessenger):
    """Run a program in several worlds at once, all of them sharing every site's noise.

    Put this handler outside every ``pyro.plate`` (it must see the broadcast site). After a
    run, ``sites`` holds every sample site's message in execution order (uncopied),
    ``noise`` each site's exogenous noise (an observed site's is abducted when first read,
    if no world needed it), ``mechanisms`` each site's noise form, ``log_weight`` the
    evidence's log-likelihood (when ``weigh``) and ``improbable`` a bool tensor per
    intervened site and world (see :func:`causalppl.noise.typicality.improbable`).

    Args:
        worlds: one ``{site: value or callable}`` of actions per world.
        evidence: ``{site: value}`` observed in world ``evidence_world``; its noise is
            recovered from the value (abduction) and pushed into the other worlds.
        noise: ``{site: u}`` noise to use instead of prior draws (from an inference).
        dim: the batch dim of the world plate; left of every plate the program uses.
        keep_dims: batch dims kept separate in ``log_weight`` (the others are summed).
        weigh: accumulate ``log_weight``; evidence a unit cannot have produced then gets
            weight ``-inf`` instead of an error (importance sampling over latent parents).
        checked_evidence: ``evidence`` was already validated (as the queries do).
        evidence_world: the world the evidence was observed in.
    """

    def __init__(
        self,
        worlds: Sequence[Mapping],
        evidence: Mapping[str, object] | None = None,
        noise: Mapping[str, torch.Tensor] | None = None,
        dim: int = -4,
        keep_dims: tuple[int, ...] = (),
        weigh: bool = True,
        checked_evidence: bool = False,
        evidence_world: int = 0,
    ):
        if not isinstance(dim, int) or dim >= 0:
            raise CausalError(f"dim of the world plate must be a negative int, got {dim!r}")
        self.worlds = [check_actions(a, f"actions of world {i}") for i, a in enumerate(worlds)]
        self.evidence = check_actions(evidence, "evidence")
        # A name the program never samples is a mistake, as for cp.do and cp.condition.
        super().__init__(set(self.evidence).union(*self.worlds))
        self.given_noise = dict(noise or {})
        self.dim, self.keep_dims, self.weigh = dim, tuple(keep_dims), weigh
        self.checked_evidence, self.evidence_world = checked_evidence, evidence_world
        self._plate = pyro.plate("world", len(self.worlds), dim=dim)

    def __enter__(self):
        self.log_weight = torch.zeros(())
        self.noise = world_site.LazyNoise()
        self.mechanisms: dict[str, str] = {}
        self.sites: dict[str, dict] = {}
        self.improbable: dict[str, torch.Tensor] = {}
        out = super().__enter__()
        self._plate.__enter__()
        return out

    def __exit__(self, *exc):
        self._plate.__exit__(*exc)
        return super().__exit__(*exc)

    def _pyro_sample(self, msg):
        if site_is_subsample(msg) or msg["infer"].get("_cp_internal"):
            return
        self._note(msg)
        self.sites[msg["name"]] = msg  # the live message: its value is final once this hook ran
        if msg["value"] is not None and not msg["is_observed"]:
            return  # a value someone else chose (e.g. a replayed guide): not ours to change
        site = world_site.read(msg, self)
        if site.inner_do is not None:
            value, u = world_site.redo_inner_intervention(site, self)
        elif site.observed:
            value, u = world_site.observe(site, self)
        else:
            u = (
                self.given_noise[site.name]
                if site.name in self.given_noise
                else site.nm.noise_dist(site.shared_shape).sample()
            )
            value = site.nm.push(u)
        value = value.expand(site.shape)
        for world, actions in enumerate(self.worlds):
            if site.name in actions:
                value = world_site.act(site, self, world, actions[site.name], value)
        self.noise[site.name] = u
        self.mechanisms[site.name] = site.nm.describe()
        msg["value"] = value
        msg["is_observed"] = site.observed

    def add_log_weight(self, lp: torch.Tensor) -> None:
        """Add a log-likelihood term, summed over every batch dim not in ``keep_dims``."""
        keep = {d for d in self.keep_dims if -lp.dim() <= d}
        dims = [d for d in range(-lp.dim(), 0) if d not in keep and lp.shape[d] != 1]
        if dims:
            lp = lp.sum(dims, keepdim=True)
        self.log_weight = self.log_weight + lp
