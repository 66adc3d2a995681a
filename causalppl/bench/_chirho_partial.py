"""ChiRho's recipe for a partial-evidence counterfactual, run beside ours by the benchmark.

The recipe is the one ChiRho's own test suite uses (``test_cf_inference_with_soft_conditioner``):
exogenous noise written out as ``u`` sites with each node a ``pyro.deterministic``, so that
the twin worlds share noise; observed deterministic nodes conditioned softly
(``AutoSoftConditioning``, a Gaussian kernel of width ``scale`` around the observation);
SVI with an ``AutoMultivariateNormal`` guide on the conditioned model; then ``Predictive``
of the ``TwinWorldCounterfactual`` model under the intervention with that guide.

Runs only where ``chirho`` is installed (the benchmark's own environment; see
:func:`available`); causalppl never depends on it.
"""

from __future__ import annotations

import importlib.util

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Predictive, Trace_ELBO
from pyro.infer.autoguide import AutoMultivariateNormal

__all__ = ["RECIPE", "available", "counterfactual_samples"]

RECIPE = dict(scale=0.01, lr=0.03, steps=2500)  # the values of ChiRho's test


def available() -> bool:
    return importlib.util.find_spec("chirho") is not None


def _explicit_noise_scm(w: torch.Tensor, names: list[str], units: int):
    """The linear-Gaussian SCM ``x_j = sum_i w_ij x_i + u_j`` with its noise as sample sites."""

    def scm():
        vals = []
        with pyro.plate("unit", units, dim=-1):
            for j, name in enumerate(names):
                u = pyro.sample(f"u_{name}", dist.Normal(0.0, 1.0))
                loc = sum((w[i, j] * vals[i] for i in range(j) if w[i, j] != 0), torch.tensor(0.0))
                vals.append(pyro.deterministic(name, loc + u, event_dim=0))
        return vals

    return scm


def counterfactual_samples(w, names, evidence, action, target, *, num_samples, steps=None, seed=0):
    """Counterfactual samples ``[num_samples, units]`` of ``target`` under ``do(action)``."""
    from chirho.counterfactual.handlers import TwinWorldCounterfactual
    from chirho.interventional.handlers import do
    from chirho.observational.handlers import condition
    from chirho.observational.handlers.soft_conditioning import AutoSoftConditioning

    units = next(iter(evidence.values())).shape[0]
    scm = _explicit_noise_scm(w, names, units)
    soft = pyro.poutine.reparam(config=AutoSoftConditioning(scale=RECIPE["scale"]))
    acts = {k: torch.tensor(float(v)) for k, v in action.items()}

    def conditioned():
        with soft, condition(data=evidence):
            return scm()

    def twin():
        with soft, TwinWorldCounterfactual(), do(actions=acts), condition(data=evidence):
            return scm()

    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    guide = AutoMultivariateNormal(conditioned)
    svi = SVI(conditioned, guide, pyro.optim.Adam({"lr": RECIPE["lr"]}), Trace_ELBO())
    for _ in range(steps or RECIPE["steps"]):
        svi.step()
    draws = Predictive(twin, guide=guide, num_samples=num_samples, return_sites=[target], parallel=True)()[target]
    return draws.reshape(num_samples, 2, units)[:, 1]  # world 1 is the counterfactual one
