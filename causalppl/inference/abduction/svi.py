"""SVI abduction: a Gaussian posterior over the latent sites' noise, fitted by the ELBO."""

from __future__ import annotations

import contextlib
import math

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.infer import SVI as PyroSVI
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoMultivariateNormal
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ... import checks
from ...errors import CausalError
from ...handlers.condition import condition
from ...noise import GumbelMaxNoise, noise_model
from .base import Abduction, strategy

__all__ = ["SVI", "ExogenousMessenger", "noise_site", "svi_noise_posterior"]

STEPS, LR, PARTICLES = 1000, 0.05, 16


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
        pushed = nm.push(u)  # broadcast with the site: outer plates (particles, units) widen it
        value = pushed.expand(torch.broadcast_shapes(pushed.shape, fn.batch_shape + fn.event_shape))
        msg["value"] = value
        msg["fn"] = dist.Delta(value, event_dim=len(fn.event_shape)).mask(False)
        msg["is_observed"] = True


@strategy
class SVI(Abduction):
    """A full-covariance Gaussian guide (``AutoMultivariateNormal``) over the latent noise.

    ``svi_steps`` Adam steps (default 1000) at ``svi_lr`` (default 0.05) decaying to 1% of
    it, ``PARTICLES`` vectorised ELBO particles per step, and the guide's parameters
    averaged over the second half of the steps (Polyak averaging: the optimiser's noise
    averages out instead of landing in the answer). ``attrs`` report the final ELBO
    (``svi_elbo``, the mean over the last tenth of the steps) and its trend
    (``svi_elbo_trend``: the change from the tenth before, in units of the ELBO's own
    spread over the last tenth; near 0 once converged).
    """

    name = "svi"

    def answer(self, run, num_samples):
        steps = checks.positive_int(self.options.get("svi_steps", STEPS), "svi_steps")
        lr = checks.positive_number(self.options.get("svi_lr", LR), "svi_lr")
        program = condition(run.program, run.evidence) if run.evidence else run.program
        noise, attrs = svi_noise_posterior(
            program, self.latent, run.info, num_samples=num_samples, sample_dim=run.sample_dim, steps=steps, lr=lr
        )
        tw = run.run(num_samples, noise=noise)
        return {n: tw.sites[n]["value"] for n in run.info.endogenous}, attrs, tw


def svi_noise_posterior(conditioned, latent, info, *, num_samples, sample_dim, steps=STEPS, lr=LR):
    """Fit the guide over the noise of ``latent`` sites; draw ``num_samples`` of it.

    Args:
        conditioned: the program with the evidence observed and the unit plate applied.
        latent: the unobserved sites whose noise posterior needs inference.

    Returns:
        ``({site: noise draws with the sample dim at sample_dim}, diagnostics)``.
    """
    for name in latent:
        nm = noise_model(info.sites[name]["fn"], name)
        if isinstance(nm, GumbelMaxNoise) or not nm.noise_dist(torch.Size()).has_rsample:
            raise CausalError(
                f"abduction='svi' needs continuous, reparameterisable noise; site {name!r} is "
                f"{nm.describe()}: use abduction='importance'"
            )
    program = ExogenousMessenger(latent)(conditioned)
    guide = AutoMultivariateNormal(program, init_scale=0.1)  # captures posterior correlations
    optim = pyro.optim.ClippedAdam({"lr": lr, "lrd": 0.01 ** (1 / steps)})
    elbo = Trace_ELBO(num_particles=PARTICLES, vectorize_particles=True, max_plate_nesting=-sample_dim - 1)
    store = pyro.get_param_store()
    saved = store.get_state()
    store.clear()  # the guide's parameters must not leak into (or read from) the user's store
    losses, average, counted = [], None, 0
    try:
        with _one_thread():
            svi = PyroSVI(program, guide, optim, elbo)
            for step in range(steps):
                losses.append(svi.step())
                if step >= steps // 2:  # Polyak averaging over the second half
                    params = [p.detach() for p in guide.parameters()]
                    counted += 1
                    average = (
                        [p.clone() for p in params]
                        if average is None
                        else [a.add_((p - a) / counted) for a, p in zip(average, params)]
                    )
            with torch.no_grad():
                for p, a in zip(guide.parameters(), average):
                    p.copy_(a)
                with poutine.trace() as tr, pyro.plate("sample", num_samples, dim=sample_dim):
                    guide()
    finally:
        store.set_state(saved)
    return {name: tr.trace.nodes[noise_site(name)]["value"] for name in latent}, _diagnostics(losses)


def _diagnostics(losses: list[float]) -> dict:
    tenth = max(1, len(losses) // 10)
    last = torch.tensor(losses[-tenth:], dtype=torch.float64)
    before = torch.tensor(losses[-2 * tenth : -tenth] or losses[-tenth:], dtype=torch.float64)
    spread = float(last.std()) if len(last) > 1 else 0.0
    trend = float(before.mean() - last.mean()) / spread if spread > 0 else 0.0
    return {
        "svi_elbo": -float(last.mean()),
        "svi_elbo_trend": trend if math.isfinite(trend) else float("nan"),
        "svi_steps": len(losses),
    }


@contextlib.contextmanager
def _one_thread():
    """Small-tensor SVI is many tiny ops: extra threads only add contention (6-10x slower when
    another process competes for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
