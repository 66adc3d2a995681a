"""The objectives :func:`causalppl.fit` optimises: exact likelihood, and the ELBO.

Fully observed rows of a model that offers batched paths
(:mod:`causalppl.program.batched`) are fitted by maximum likelihood through its batched
``log_prob``; any other program by the ELBO, with an ``AutoNormal`` guide over the
unobserved sites (or the user's amortised guide).
"""

from __future__ import annotations

import math

import pyro
import pyro.poutine as poutine
import torch
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoNormal

from ..errors import CausalError
from ..handlers.values import site_dtype
from ..program import batched_paths, guarded, is_model_site, probe
from .data import ColumnSpec, as_columns, as_tensors

__all__ = ["Objective", "first_non_finite", "make_objective"]

_CHUNK = 1 << 16


class Objective:
    """What the fitting loop needs: rows, parameters, a minibatch loss, a held-out loss."""

    method = "?"
    num_rows = 0

    def setup(self, train: torch.Tensor, held: torch.Tensor) -> None:
        self.train, self.held = train, held

    def parameters(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def loss(self, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def heldout_loss(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def culprit(self, rows: torch.Tensor) -> str | None:
        """The first site whose value or log-density is not finite on these training rows."""
        return None


class _MLE(Objective):
    """Negative mean log-likelihood of fully observed rows, through the batched path."""

    method = "mle"

    def __init__(self, model, paths, data, ignore_extra):
        self.model, self.paths = model, paths
        specs = {n: ColumnSpec.of(paths.prototype(n)) for n in paths.names}
        dtype = next((site_dtype(paths.prototype(n)) for n in paths.names if specs[n].categories is None), None)
        self.values, self.num_rows = as_tensors(data, specs, ignore_extra=ignore_extra, dtype=dtype)

    def setup(self, train, held):
        super().setup(train, held)
        self.paths.prepare({k: v[train] for k, v in self.values.items()})

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _log_prob(self, idx):
        return self.paths.log_prob({k: v[idx] for k, v in self.values.items()})

    def loss(self, rows):
        return -self._log_prob(self.train[rows]).mean()

    def heldout_loss(self) -> float:
        with torch.no_grad():
            total = sum(float(self._log_prob(chunk).sum()) for chunk in self.held.split(_CHUNK))
        return -total / len(self.held)

    def culprit(self, rows):
        batch = {k: v[self.train[rows]] for k, v in self.values.items()}
        with torch.no_grad(), pyro.plate("unit", len(rows), dim=-1):
            tr = poutine.trace(poutine.condition(self.model, batch)).get_trace()
        return first_non_finite(tr)


class _ELBO(Objective):
    """Negative ELBO per row with an ``AutoNormal`` guide over the unobserved sites.

    The program describes one unit; rows are a ``pyro.plate("unit")`` left of the
    program's own plates, subsampled per minibatch (the guide's per-row parameters are
    indexed by the same subsample). The held-out loss estimates ``-log p(observed)`` per
    row by importance sampling with the prior as proposal.
    """

    method = "svi"

    def __init__(self, model, data, latent, ignore_extra, num_particles):
        self.model, self.num_particles = model, num_particles
        self.info = info = probe(model)
        self.unit_dim = info.first_free_dim
        columns = as_columns(data)
        specs = {name: ColumnSpec.of(info.sites[name]["fn"]) for name in info.names}
        extra_latent = set(latent) - set(specs)
        if extra_latent:
            raise CausalError(f"latent names {sorted(extra_latent)} are not sites of the program; sites: {info.names}")
        self.paths = batched_paths(model)
        if self.paths is None:  # a plain program: the sites missing from the data are its latent sites
            latent = list(dict.fromkeys([*latent, *(n for n in info.names if n not in columns)]))
        # else (a declared SCM): a missing node is a mistake unless declared latent (as_tensors says so)
        self.values, self.num_rows = as_tensors(data, specs, latent=latent, ignore_extra=ignore_extra)
        for name in self.values:
            self.values[name] = self.values[name].to(site_dtype(info.sites[name]["fn"]))
        self.latent = [n for n in info.names if n not in self.values]
        for name in self.latent:
            if info.sites[name]["fn"].support.is_discrete:
                raise CausalError(f"latent site {name!r} is discrete; fit infers continuous latent sites only")
        self.program = guarded(model)

    def _placed(self, idx):
        return {name: v[idx].reshape(self.info.unit_shape(name, len(idx))) for name, v in self.values.items()}

    def _program(self, idx):
        with pyro.plate("unit", len(self.train), subsample=idx, dim=self.unit_dim):
            poutine.condition(self.program, self._placed(self.train[idx]))()

    def _plates(self, idx):
        return pyro.plate("unit", len(self.train), subsample=idx, dim=self.unit_dim)

    def setup(self, train, held):
        super().setup(train, held)
        if self.paths is not None:
            self.paths.prepare({k: v[train] for k, v in self.values.items()})
        self.guide = AutoNormal(self._program, create_plates=self._plates, init_scale=0.1) if self.latent else _none
        self.elbo = Trace_ELBO()

    def parameters(self):
        probe_rows = torch.arange(min(2, len(self.train)))
        with poutine.trace(param_only=True) as tr:
            self.elbo.differentiable_loss(self._program, self.guide, probe_rows)
        params = {}
        if isinstance(self.model, torch.nn.Module):
            params.update((id(p), p) for p in self.model.parameters())
        else:
            for site in tr.trace.nodes.values():
                leaf = site["value"].unconstrained() if hasattr(site["value"], "unconstrained") else site["value"]
                params[id(leaf)] = leaf
        if isinstance(self.guide, torch.nn.Module):
            params.update((id(p), p) for p in self.guide.parameters())
        if not params:
            raise CausalError("the model has no parameters to fit (no pyro.param or PyroModule parameters)")
        return [p for p in params.values() if p.requires_grad]

    def loss(self, rows):
        return self.elbo.differentiable_loss(self._program, self.guide, rows) / len(self.train)

    def culprit(self, rows):
        with torch.no_grad():
            guide_tr = poutine.trace(self.guide).get_trace(rows)
            model_tr = poutine.trace(poutine.replay(self._program, trace=guide_tr)).get_trace(rows)
        return first_non_finite(model_tr, guide_tr)

    def heldout_loss(self) -> float:
        k = self.num_particles if self.latent else 1
        total = 0.0
        with torch.no_grad():
            for chunk in self.held.split(max(1, _CHUNK // k)):
                total += float(self._heldout_loglik(chunk, k).sum())
        return -total / len(self.held)

    def _heldout_loglik(self, rows, k):
        m = len(rows)
        with (
            poutine.trace() as tr,
            pyro.plate("particles", k, dim=self.unit_dim - 1),
            pyro.plate("unit", m, dim=self.unit_dim),
        ):
            poutine.condition(self.program, self._placed(rows))()
        lp = torch.zeros(k, m)
        right = -self.unit_dim - 1  # plate dims of the program, right of the unit dim
        for name in self.values:
            site = tr.trace.nodes[name]
            t = site["fn"].log_prob(site["value"])
            if right:
                t = t.reshape(t.shape[: t.dim() - right] + (-1,)).sum(-1) if t.dim() >= right else t.sum()
            lp = lp + t
        return torch.logsumexp(lp, 0) - math.log(k)

    def close(self):
        if isinstance(self.guide, torch.nn.Module):  # AutoNormal keeps its parameters in the param store
            store = pyro.get_param_store()
            mine = {id(p) for p in self.guide.parameters()}
            for name in [n for n in store.keys() if id(store.get_param(n).unconstrained()) in mine]:
                del store[name]


def _none(*args, **kwargs):
    return None


def make_objective(model, data, *, guide=None, latent=(), ignore_extra=False, num_particles=32) -> Objective:
    """The ELBO with the user's guide when one is given; maximum likelihood through the model's
    batched paths when it offers them; else the ELBO with an ``AutoNormal`` guide."""
    if not callable(model):
        raise CausalError(f"model must be a Pyro program (a callable), got {type(model).__name__}")
    if guide is not None:
        from .guided import GuidedELBO

        if list(latent):
            raise CausalError("latent= is for fits without a guide; with guide= the guide's sites are the latent ones")
        return GuidedELBO(model, guide, data, ignore_extra, num_particles)
    paths = batched_paths(model)
    if paths is not None and not list(latent):
        return _MLE(model, paths, data, ignore_extra)
    return _ELBO(model, data, latent, ignore_extra, num_particles)


def first_non_finite(*traces) -> str | None:
    """``"site 'x' (its value)"`` or ``"site 'x' (its log-density)"`` for the first bad site."""
    for tr in traces:
        for name, site in tr.nodes.items():
            if not is_model_site(site):
                continue
            value = site["value"]
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
                return f"site {name!r} (its value)"
            try:
                lp = site["fn"].log_prob(value)
            except (ValueError, RuntimeError):
                return f"site {name!r} (its value is outside its law's support)"
            if not torch.isfinite(lp).all():
                return f"site {name!r} (its log-density)"
    return None
