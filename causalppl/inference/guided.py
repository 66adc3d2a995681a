"""Fitting a model with the user's amortised guide: the ELBO over minibatches of units.

The model is a one-unit Pyro program; the guide takes the observed sites as keyword
arguments (tensors with a leading unit dim) and samples every latent site. Each step
conditions the model on a minibatch inside ``pyro.plate("unit", batch)`` and calls the
guide on the same rows; the loss is the negative ELBO per row. The held-out loss is the
negative importance-weighted bound (IWAE, ``num_particles`` guide draws per row), a lower
bound of the log-likelihood that tightens as the guide improves, so early stopping on it is
sound.
"""

from __future__ import annotations

import math

import pyro
import pyro.poutine as poutine
import torch
from pyro.infer import Trace_ELBO

from ..errors import CausalError
from ..handlers.values import site_dtype
from ..program import guarded, is_model_site, probe
from .abduction.amortized import guide_sites, required_observations
from .data import ColumnSpec, as_tensors
from .objectives import Objective, first_non_finite

__all__ = ["GuidedELBO"]


class GuidedELBO(Objective):
    """Negative ELBO per row of a model with an amortised guide."""

    method = "svi"

    def __init__(self, model, guide, data, ignore_extra, num_particles):
        self.model, self.guide, self.num_particles = model, guide, num_particles
        self.info = info = probe(model)
        self.unit_dim = info.first_free_dim
        specs = {name: ColumnSpec.of(info.sites[name]["fn"]) for name in info.names}
        sampled = self._sampled_by_guide(data, specs, ignore_extra)
        self.latent = sorted(sampled)
        self.values, self.num_rows = as_tensors(data, specs, latent=self.latent, ignore_extra=ignore_extra)
        for name in self.values:
            self.values[name] = self.values[name].to(site_dtype(info.sites[name]["fn"]))
        self.reads = required_observations(guide, self.values)
        self.program = guarded(model)
        self.elbo = Trace_ELBO()

    def _sampled_by_guide(self, data, specs, ignore_extra) -> set[str]:
        """The guide's sites, checked: latent sites of the model, all of them."""
        from .data import as_columns

        columns = as_columns(data)
        observed = {n for n in specs if n in columns}
        probe_rows = as_tensors(
            {k: v for k, v in columns.items() if k in observed}, {k: specs[k] for k in observed}, ignore_extra=True
        )[0]
        kwargs = required_observations(self.guide, probe_rows)
        sampled = guide_sites(self.guide, {k: probe_rows[k][:2] for k in kwargs})
        info = self.info
        bad = sorted(sampled & (observed | info.observed))
        if bad:
            raise CausalError(f"the guide samples observed site(s) {bad}: a guide draws only latent sites")
        unknown = sorted(sampled - set(info.names))
        if unknown:
            raise CausalError(f"the guide samples {unknown}, which the model never samples; sites: {info.names}")
        latent = {
            n for n in info.names if n not in observed and n not in info.observed and not info.is_deterministic(n)
        }
        missing = sorted(latent - sampled)
        if missing:
            raise CausalError(
                f"the guide does not sample latent site(s) {missing}; data has no column for them "
                "either: the guide must draw every latent site"
            )
        return sampled

    def _rows(self, idx):
        return {k: v[idx] for k, v in self.values.items()}

    def _model(self, rows):
        placed = {name: v.reshape(self.info.unit_shape(name, v.shape[0])) for name, v in rows.items()}
        with pyro.plate("unit", next(iter(rows.values())).shape[0], dim=self.unit_dim):
            poutine.condition(self.program, placed)()

    def _guide(self, rows):
        return self.guide(**{k: rows[k] for k in self.reads})

    def parameters(self):
        rows = self._rows(self.train[: min(2, len(self.train))])
        with poutine.trace(param_only=True) as tr:
            self.elbo.differentiable_loss(self._model, self._guide, rows)
        params = {}
        for owner in (self.model, getattr(self.guide, "__self__", None), self.guide):
            if isinstance(owner, torch.nn.Module):
                params.update((id(p), p) for p in owner.parameters())
        for site in tr.trace.nodes.values():
            leaf = site["value"].unconstrained() if hasattr(site["value"], "unconstrained") else site["value"]
            params[id(leaf)] = leaf
        if not params:
            raise CausalError("neither the model nor the guide has parameters to fit")
        return [p for p in params.values() if p.requires_grad]

    def loss(self, rows):
        idx = self.train[rows]
        return self.elbo.differentiable_loss(self._model, self._guide, self._rows(idx)) / len(idx)

    def heldout_loss(self) -> float:
        total = 0.0
        with torch.no_grad():
            for chunk in self.held.split(max(1, 4096 // self.num_particles)):
                total += float(self._iwae(self._rows(chunk)).sum())
        return -total / len(self.held)

    def _iwae(self, rows) -> torch.Tensor:
        """``log (1/K) sum_k p(x, z_k) / q(z_k | x)`` per row, ``z_k`` from the guide."""
        k = self.num_particles
        many = {name: v.repeat((k,) + (1,) * (v.dim() - 1)) for name, v in rows.items()}
        guide_tr = poutine.trace(self._guide).get_trace(many)
        model_tr = poutine.trace(poutine.replay(self._model, trace=guide_tr)).get_trace(many)
        m = next(iter(rows.values())).shape[0]
        log_w = torch.zeros(k * m)
        right = -self.unit_dim - 1  # the model's own plate dims, right of the unit dim
        for tr, sign in ((model_tr, 1.0), (guide_tr, -1.0)):
            for site in tr.nodes.values():
                if is_model_site(site):
                    lp = site["fn"].log_prob(site["value"])
                    if right and lp.dim() > right:
                        lp = lp.reshape(lp.shape[: lp.dim() - right] + (-1,)).sum(-1)
                    log_w = log_w + sign * lp.expand(k * m)
        return torch.logsumexp(log_w.reshape(k, m), 0) - math.log(k)

    def culprit(self, rows) -> str | None:
        """The first site whose value or log-density is not finite on these rows."""
        batch = self._rows(self.train[rows])
        with torch.no_grad():
            guide_tr = poutine.trace(self._guide).get_trace(batch)
            model_tr = poutine.trace(poutine.replay(self._model, trace=guide_tr)).get_trace(batch)
        return first_non_finite(model_tr, guide_tr)
