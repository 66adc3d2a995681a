"""Trace a Pyro program once: its sample sites, and (with provenance tracking) each site's parents."""

from __future__ import annotations

import re

import pyro
import pyro.poutine as poutine
import torch
from pyro.distributions.torch_distribution import MaskedDistribution
from pyro.ops.provenance import ProvenanceTensor, detach_provenance, get_provenance
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ..errors import DuplicateSiteError
from ..handlers.deterministic import DeterministicShapeMessenger
from .guard import guarded

__all__ = ["UniqueSites", "exogenous_sites", "is_model_site", "sample_sites", "trace_sites"]


class UniqueSites(Messenger):
    """Raise :class:`DuplicateSiteError` when a program samples one name twice."""

    def __enter__(self):
        self.seen: set[str] = set()
        return super().__enter__()

    def _pyro_sample(self, msg):
        if site_is_subsample(msg):
            return
        name = msg["name"]
        if name in self.seen:
            raise DuplicateSiteError(
                f"site {name!r} is sampled twice in one run of the program; every sample "
                "site of a causal model must have its own name"
            )
        self.seen.add(name)


class _TrackProvenance(Messenger):
    """Every sample site's value (observed ones too) carries the site's name as provenance."""

    def _pyro_post_sample(self, msg):
        value = msg["value"]
        if isinstance(value, torch.Tensor):
            msg["value"] = ProvenanceTensor(detach_provenance(value), frozenset({msg["name"]}))


def is_model_site(site) -> bool:
    """A sample site of the program itself: not a plate's subsample site, not one causalppl added."""
    return site["type"] == "sample" and not site_is_subsample(site) and not site["infer"].get("_cp_internal")


def trace_sites(model, *args, **kwargs) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Trace ``model`` once; returns ``(sites, parents)`` for every sample site.

    ``parents[name]`` are the sites whose values the distribution of ``name`` depends on,
    read from the provenance of its log-density (so data-dependent control flow is taken
    as it ran this time).
    """
    return _trace(model, args, kwargs, track=True)


def sample_sites(model, args=(), kwargs=None) -> dict[str, dict]:
    """Trace ``model`` once without provenance (cheaper): the sample sites only."""
    return _trace(model, args, kwargs or {}, track=False)[0]


def _trace(model, args, kwargs, track: bool):
    with torch.random.fork_rng(), torch.no_grad(), pyro.validation_enabled(False):
        tracker = _TrackProvenance() if track else Messenger()
        with poutine.trace() as tr, tracker, UniqueSites(), DeterministicShapeMessenger():
            guarded(model)(*args, **kwargs)
    sites = {name: site for name, site in tr.trace.nodes.items() if is_model_site(site)}
    if not track:
        return sites, None
    parents: dict[str, list[str]] = {}
    for name, site in sites.items():
        fn = site["fn"]
        while isinstance(fn, MaskedDistribution):
            fn = fn.base_dist
        value = detach_provenance(site["value"])
        try:
            prov = get_provenance(fn.log_prob(value))
        except (ValueError, RuntimeError, NotImplementedError):
            prov = frozenset().union(*(get_provenance(v) for v in vars(fn).values() if isinstance(v, torch.Tensor)))
        parents[name] = [p for p in sites if p in prov and p != name]
    for site in sites.values():
        site["value"] = detach_provenance(site["value"])
    return sites, parents


def _is_deterministic(site: dict) -> bool:
    return bool(site["infer"].get("_deterministic"))


_NOISE_NAME = re.compile(r"^(u|U|eps|epsilon|noise)(_|$)|_(noise|u|U|eps)$")


def exogenous_sites(sites: dict[str, dict], parents: dict[str, list[str]]) -> set[str]:
    """Sites that are exogenous noise rather than endogenous variables.

    A site marked ``infer={"exogenous": True}`` (``False`` opts out). Otherwise, a
    parentless parent of a ``pyro.deterministic`` site with no other child is its noise
    when it is named like noise (``u_y``, ``U_y``, ``eps_y``, ``y_noise``); a real root
    variable feeding a deterministic site (a latent, say) stays a node.
    """
    children = {n: [c for c in sites if n in parents[c]] for n in sites}
    out = {n for n, s in sites.items() if s["infer"].get("exogenous")}
    for child, site in sites.items():
        if not _is_deterministic(site):
            continue
        cands = [
            p
            for p in parents[child]
            if sites[p]["infer"].get("exogenous") is None
            and not parents[p]
            and not _is_deterministic(sites[p])
            and children[p] == [child]
        ]
        out.update(p for p in cands if _NOISE_NAME.search(p))
    return out
