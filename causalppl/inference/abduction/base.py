"""Abduction: one interface for every way of recovering units' exogenous noise.

A counterfactual query builds a :class:`WorldRun` (the program, the placed evidence and
actions, the dims of its plates) and hands it to an :class:`Abduction` strategy, which
answers with the sites' values in both worlds. The strategies are registered by name in
:data:`STRATEGIES`: ``exact`` (inversion; exact Gumbel-max posteriors), ``importance``
(likelihood weighting, resampled per unit), ``svi`` (a fitted Gaussian posterior over the
latent noise) and ``amortized`` (a user's guide draws the latent sites).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pyro
import torch

from ...errors import CausalError, NonInvertibleError
from ...handlers.twin_world import TwinWorldMessenger

__all__ = ["Abduction", "STRATEGIES", "WorldRun", "choose", "latent_sites"]


@dataclass
class WorldRun:
    """One counterfactual question, ready to run in twin worlds.

    Attributes:
        program: runs the model once (arguments bound, unit plate applied, errors named).
        info: the program's probe.
        evidence: placed evidence ``{site: value}`` (checked).
        actions: ``{site: value or callable}`` of the counterfactual world.
        sample_dim, world_dim, unit_dim: where the query's plates sit.
        units: how many units (``None``: one, without a unit dim).
    """

    program: Callable[[], object]
    info: object
    evidence: dict
    actions: dict
    sample_dim: int
    world_dim: int
    unit_dim: int | None
    units: int | None

    @property
    def keep_dims(self) -> tuple[int, ...]:
        return (self.sample_dim,) + ((self.unit_dim,) if self.units else ())

    def run(self, num: int, *, noise=None, evidence=None, weigh: bool = False) -> TwinWorldMessenger:
        """The program in twin worlds under a ``num``-sample plate; returns the handler."""
        tw = TwinWorldMessenger(
            self.actions,
            self.evidence if evidence is None else evidence,
            noise=noise,
            dim=self.world_dim,
            keep_dims=self.keep_dims,
            weigh=weigh,
            checked_evidence=True,
        )
        # One sample needs no plate (its dim is size 1 by broadcasting): one fewer handler per site.
        plate = pyro.plate("sample", num, dim=self.sample_dim) if num > 1 else contextlib.nullcontext()
        with torch.no_grad(), tw, plate:  # answers leave as labelled arrays: no graph to record
            self.program()
        self.info.confirm(tw.sites)
        return tw


class Abduction:
    """A way of answering a :class:`WorldRun`: ``answer(run, num_samples)`` gives
    ``(values {site: tensor}, attrs, handler)`` with the sample dim at ``run.sample_dim``."""

    name = "?"

    def __init__(self, latent: list[str], **options):
        self.latent, self.options = latent, options

    def answer(self, run: WorldRun, num_samples: int) -> tuple[dict[str, torch.Tensor], dict, TwinWorldMessenger]:
        raise NotImplementedError


STRATEGIES: dict[str, type[Abduction]] = {}


def strategy(cls: type[Abduction]) -> type[Abduction]:
    """Register an abduction strategy under its ``name``."""
    STRATEGIES[cls.name] = cls
    return cls


def latent_sites(info, evidence: set[str]) -> list[str]:
    """Unobserved sites with noise whose posterior is not their prior (they need inference).

    Observed means given as evidence or observed inside the program. The noise of an
    unobserved site with no observed descendant is independent of the evidence.
    """
    observed = set(evidence) | info.observed
    unobserved = [n for n in info.names if n not in observed and not info.is_deterministic(n)]
    if not unobserved:
        return []  # full evidence: no need to read the graph
    return [n for n in unobserved if info.descendants(n) & observed]


def choose(abduction: str, latent: list[str], guide=None, **options) -> Abduction:
    """The strategy for ``abduction`` (``"auto"``: exact when nothing is latent, the guide when
    one is given, else importance sampling)."""
    if guide is not None:
        if abduction not in ("auto", "amortized"):
            raise CausalError(f"a guide abducts the latent sites amortized; abduction={abduction!r} contradicts it")
        abduction = "amortized"
    elif abduction == "amortized":
        raise CausalError("abduction='amortized' needs guide=: a Pyro program that samples the latent sites")
    if abduction == "auto":
        abduction = "exact" if not latent else "importance"
    if abduction == "exact" and latent:
        raise NonInvertibleError(
            f"abduction='exact' is impossible: the noise of unobserved site(s) {latent} is informed by observed "
            "descendants, so its posterior needs inference; use abduction='importance' or 'svi'"
        )
    if abduction not in STRATEGIES:
        raise CausalError(f"abduction must be 'auto' or one of {sorted(STRATEGIES)}, got {abduction!r}")
    return STRATEGIES[abduction](latent, guide=guide, **options)
