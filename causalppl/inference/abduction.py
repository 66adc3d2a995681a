"""Abduction by inference: the posterior over exogenous noise when evidence is partial."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import AutoMultivariateNormal
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ..errors import CausalError
from ..noise import noise_model

__all__ = ["ExogenousMessenger", "resample", "svi_noise_posterior", "noise_site"]


def noise_site(name: str) -> str:
    """The name of the explicit noise site that stands for ``name``'s exogenous noise."""
    return f"{name}__noise"


class ExogenousMessenger(Messenger):
    """Rewrite listed sites as explicit noise plus a deterministic push (noise form).

    ``y ~ Normal(f(pa), s)`` becomes ``y__noise ~ Normal(0, 1); y = f(pa) + s * y__noise``,
    so inference over ``y__noise`` is inference over the unit's exogenous noise; the same
    for every noise form :func:`causalppl.noise.noise_model` knows.
    """

    def __init__(self, sites):
        super().__init__()
        self.sites = frozenset(sites)

    def _pyro_sample(self, msg):
        if msg["name"] not in self.sites or msg["is_observed"] or site_is_subsample(msg):
            return
        fn = msg["fn"]
        nm = noise_model(fn, msg["name"])
        u = pyro.sample(noise_site(msg["name"]), nm.noise_dist(fn.batch_shape), infer={"_cp_internal": True})
        value = nm.push(u).expand(fn.batch_shape + fn.event_shape)
        msg["value"] = value
        msg["fn"] = dist.Delta(value, event_dim=len(fn.event_shape)).mask(False)
        msg["is_observed"] = True


def svi_noise_posterior(conditioned, latent, info, *, num_samples, sample_dim, steps=1000, lr=0.02):
    """Fit an ``AutoMultivariateNormal`` guide over the noise of ``latent`` sites; draw ``num_samples``.

    Args:
        conditioned: the program with evidence observed and the unit plate applied.
        latent: the unobserved sites whose noise posterior needs inference.

    Returns:
        ``{site: noise draws}`` with the sample dim at ``sample_dim``.
    """
    for name in latent:
        nm = noise_model(info.sites[name]["fn"], name)
        if not nm.noise_dist(torch.Size()).has_rsample or "GumbelMax" in nm.describe():
            raise CausalError(
                f"abduction='svi' needs continuous, reparameterisable noise; site {name!r} is "
                f"{nm.describe()}: use abduction='importance'"
            )
    program = ExogenousMessenger(latent)(conditioned)
    guide = AutoMultivariateNormal(program, init_scale=0.1)  # captures posterior correlations
    optim = pyro.optim.ClippedAdam({"lr": lr, "lrd": 0.1 ** (1 / max(steps, 1))})
    store = pyro.get_param_store()
    saved = store.get_state()
    store.clear()  # the guide's parameters must not leak into (or read from) the user's store
    try:
        svi = SVI(program, guide, optim, Trace_ELBO())
        for _ in range(steps):
            svi.step()
        with torch.no_grad(), poutine.trace() as tr, pyro.plate("sample", num_samples, dim=sample_dim):
            guide()
    finally:
        store.set_state(saved)
    return {name: tr.trace.nodes[noise_site(name)]["value"] for name in latent}


def resample(log_weight: torch.Tensor, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial resampling of particles, per unit.

    Args:
        log_weight: ``[particles, units]`` log importance weights.

    Returns:
        ``(index [num_samples, units], effective sample size [units])``.
    """
    if torch.isneginf(log_weight).all(0).any():
        raise CausalError(
            "the evidence has zero likelihood under every particle (is a deterministic site or a "
            "point mass observed at a value its parents cannot produce?)"
        )
    w = torch.softmax(log_weight, 0)
    ess = 1.0 / (w**2).sum(0)
    index = torch.multinomial(w.T, num_samples, replacement=True).T
    return index, ess
