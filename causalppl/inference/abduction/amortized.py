"""Amortized abduction: a user's guide draws the latent sites, every other noise is exact.

The guide is a Pyro program that takes the observed sites as keyword arguments (tensors
with a leading unit dim) and samples every latent site of the model (an image's style
code, concept latents). Its draws are then treated as observed in the factual world, so
the noise of every site (the latents' own, an image's pixel noise, a flow's base noise) is
recovered exactly from values, as in exact abduction. With ``num_particles`` the guide is a
proposal: ``num_particles`` draws per unit, weighted by ``p(evidence, latents) /
q(latents | evidence)`` and resampled.
"""

from __future__ import annotations

import inspect

import pyro.poutine as poutine
import torch

from ... import checks
from ...errors import CausalError, EvidenceError
from ...program import is_model_site
from .base import Abduction, strategy
from .importance import _gather, _weights, resample

__all__ = ["Amortized", "guide_sites", "required_observations"]


@strategy
class Amortized(Abduction):
    """Latent sites from the guide given the evidence; ``attrs["abduction"] == "amortized"``.

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     z = pyro.sample("z", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("x", dist.Normal(z, 0.5))
        >>> def guide(x):                      # the exact posterior of z given x
        ...     with pyro.plate("unit", x.shape[0]):
        ...         pyro.sample("z", dist.Normal(0.8 * x, 0.5 ** 0.5 * 0.8 ** 0.5))
        >>> cf = cp.counterfactual(model, {"x": torch.tensor([1.0, 2.0])}, {"z": 0.0}, guide=guide,
        ...                        num_samples=4, seed=0)
        >>> cf.attrs["abduction"], cf.x.dims
        ('amortized', ('world', 'sample', 'unit'))
    """

    name = "amortized"

    def answer(self, run, num_samples):
        guide = self.options["guide"]
        info = run.info
        observed = required_observations(guide, run.evidence)
        given = self.options.get("num_particles")
        draws = checks.positive_int(given, "num_particles") if given is not None else num_samples
        latents, log_q = _draw(guide, _as_units(run.evidence, observed, run, draws), draws, run, given is not None)
        self._check_sites(set(latents), run)  # (the sites of the same guide run: the guide runs once)
        evidence = {**run.evidence, **{k: _placed(v, draws, run, info, k) for k, v in latents.items()}}
        tw = run.run(draws, evidence=evidence, weigh=given is not None)
        values = {n: tw.sites[n]["value"] for n in info.endogenous}
        attrs = {"guide_sites": ",".join(sorted(latents))}
        if given is not None:  # the guide as a proposal, reweighted to the posterior
            lw = _weights(tw.log_weight.detach(), draws, run) - log_q.reshape(draws, run.units or 1)
            index, ess = resample(lw, num_samples)
            values = {n: _gather(v, index, run, len(info.event_shape(n))) for n, v in values.items()}
            attrs.update(ess_min=float(ess.min()), num_particles=draws)
        return values, attrs, tw

    def _check_sites(self, sampled: set[str], run) -> None:
        info = run.info
        observed = set(run.evidence) | info.observed
        bad = sorted(sampled & observed)
        if bad:
            raise CausalError(f"the guide samples observed site(s) {bad}: a guide draws only latent sites")
        unknown = sorted(sampled - set(info.names))
        if unknown:
            raise CausalError(f"the guide samples {unknown}, which the model never samples; sites: {info.names}")
        latent = {n for n in info.names if n not in observed and not info.is_deterministic(n)}
        missing = sorted((set(self.latent) | (latent & _informed(info, observed))) - sampled)
        if missing:
            raise CausalError(
                f"the guide does not sample latent site(s) {missing}, whose posterior the evidence "
                "informs: the guide must draw every latent site"
            )


def _informed(info, observed: set[str]) -> set[str]:
    return {n for n in info.names if n not in observed and info.descendants(n) & observed}


def required_observations(guide, evidence) -> list[str]:
    """The observed sites the guide reads (its keyword parameters); raises when evidence lacks one."""
    if not callable(guide):
        raise CausalError(f"guide must be a Pyro program (a callable), got {type(guide).__name__}")
    try:
        params = list(inspect.signature(guide).parameters.values())
    except (TypeError, ValueError):
        return sorted(evidence)
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [p.name for p in params if p.kind in named]
    missing = sorted({p.name for p in params if p.kind in named and p.default is p.empty} - set(evidence))
    if missing:
        raise EvidenceError(
            f"the guide reads observed site(s) {missing}, which the evidence does not give; "
            f"evidence: {sorted(evidence)}"
        )
    if any(p.kind is p.VAR_KEYWORD for p in params):  # **observed: it takes every observed site
        return sorted(evidence)
    return [n for n in names if n in evidence]


def guide_sites(guide, observations: dict) -> set[str]:
    """The sample sites one run of ``guide(**observations)`` draws."""
    with torch.no_grad(), poutine.block(hide_types=["param"]):
        tr = poutine.trace(guide).get_trace(**observations)
    return {n for n, s in tr.nodes.items() if is_model_site(s) and not s["is_observed"]}


def _as_units(evidence, names, run, copies: int) -> dict:
    """The guide's keyword arguments: each observed site ``[copies * units, *site shape]``."""
    out = {}
    for name in names:
        shape = tuple(run.info.shape(name))
        v = evidence[name].reshape((-1,) + shape) if run.units else evidence[name].reshape((1,) + shape)
        out[name] = v.repeat((copies,) + (1,) * len(shape))
    return out


def _draw(guide, observations, copies, run, weigh: bool):
    """``copies`` guide draws per unit: ``{site: [copies, units, ...]}`` and ``log q [copies, units]``."""
    with torch.no_grad(), poutine.block(hide_types=["param"]):
        tr = poutine.trace(guide).get_trace(**observations)
    rows = run.units or 1
    latents, log_q = {}, torch.zeros(copies * rows)
    for name, site in tr.nodes.items():
        if not is_model_site(site) or site["is_observed"]:
            continue
        value = site["value"].detach()
        latents[name] = value.reshape((copies, rows) + tuple(value.shape[1:]))
        if weigh:  # log q is only read to weigh the draws as proposals
            lp = site["fn"].log_prob(site["value"]).detach()
            log_q = log_q + lp.reshape(copies * rows, -1).sum(-1)
    return latents, log_q.reshape(copies, rows)


def _placed(value, copies, run, info, name):
    """A guide draw ``[copies, units, *shape]`` laid out for the twin world's sample and unit dims."""
    units = info.unit_shape(name, run.units or 1)
    return value.reshape((copies,) + (units if run.units else units[1:]))
