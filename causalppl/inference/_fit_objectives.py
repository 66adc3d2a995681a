"""The two objectives :func:`causalppl.fit` optimises: exact likelihood, and the ELBO."""

from __future__ import annotations

import math

import pyro
import pyro.poutine as poutine
import torch
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoNormal

from ..errors import CausalError
from ..handlers.condition import site_dtype
from ..queries._program import probe
from ..scm.data import ColumnSpec, as_columns, as_tensors
from ..scm.fast import encode_all, log_prob_encoded

__all__ = ["mle_objective", "svi_objective"]

_CHUNK = 1 << 16


class _Objective:
    method = "?"
    num_rows = 0

    def setup(self, train: torch.Tensor, held: torch.Tensor) -> None:
        self.train, self.held = train, held

    def close(self) -> None:
        pass


class _MLE(_Objective):
    """Negative mean log-likelihood of fully observed rows, through the fast path."""

    method = "mle"

    def __init__(self, scm, data, ignore_extra):
        self.scm = scm
        self.values, self.num_rows = as_tensors(data, scm.specs, ignore_extra=ignore_extra,
                                                dtype=scm.feature_loc.dtype)

    def setup(self, train, held):
        super().setup(train, held)
        scm = self.scm
        if scm.config["standardize"] and not bool(scm.standardized):
            scm.set_standardization({k: v[train] for k, v in self.values.items()})
        with torch.no_grad():
            self.X = encode_all(scm, self.values)
        self.others = scm.layout.other_nodes

    def parameters(self):
        return [p for p in self.scm.parameters() if p.requires_grad]

    def _log_prob(self, idx):
        values = {k: self.values[k][idx] for k in self.scm.nodes} if self.others else {}
        return log_prob_encoded(self.scm, self.X[idx], values)

    def loss(self, rows):
        return -self._log_prob(self.train[rows]).mean()

    def heldout_loss(self) -> float:
        with torch.no_grad():
            total = sum(float(self._log_prob(chunk).sum()) for chunk in self.held.split(_CHUNK))
        return -total / len(self.held)


def mle_objective(scm, data, *, ignore_extra=False):
    return _MLE(scm, data, ignore_extra)


class _SVI(_Objective):
    """Negative ELBO per row with an ``AutoNormal`` guide over the unobserved sites.

    The program describes one unit; rows are a ``pyro.plate("unit")`` left of the
    program's own plates, subsampled per minibatch (the guide's per-row parameters are
    indexed by the same subsample). The held-out loss estimates ``-log p(observed)`` per
    row by importance sampling with the prior as proposal.
    """

    method = "svi"

    def __init__(self, model, data, latent, ignore_extra, num_particles):
        from ..scm import NeuralSCM

        self.model, self.num_particles = model, num_particles
        self.info = info = probe(model)
        self.unit_dim = info.first_free_dim
        columns = as_columns(data)
        if isinstance(model, NeuralSCM):
            specs = model.specs
            latent = list(latent)
        else:
            specs = {name: ColumnSpec(tuple(info.shape(name)), _categories(info.sites[name]["fn"]))
                     for name in info.names}
            extra_latent = set(latent) - set(specs)
            if extra_latent:
                raise CausalError(f"latent names {sorted(extra_latent)} are not sites of the program; "
                                  f"sites: {info.names}")
            latent = [n for n in info.names if n not in columns]
        self.values, self.num_rows = as_tensors(data, specs, latent=latent, ignore_extra=ignore_extra)
        for name in self.values:
            self.values[name] = self.values[name].to(site_dtype(info.sites[name]["fn"]))
        self.latent = [n for n in info.names if n not in self.values]
        for name in self.latent:
            if info.sites[name]["fn"].support.is_discrete:
                raise CausalError(f"latent site {name!r} is discrete; fit infers continuous latent sites only")
        if isinstance(model, NeuralSCM) and model.config["standardize"] and not bool(model.standardized):
            self._standardise = model
        else:
            self._standardise = None
        self.guide_name = f"_cp_fit_guide_{id(self)}"

    def _placed(self, idx):
        out = {}
        for name, v in self.values.items():
            v = v[idx]
            lead = -self.unit_dim - 1 - len(self.info.sites[name]["fn"].batch_shape)
            out[name] = v.reshape((v.shape[0],) + (1,) * lead + tuple(v.shape[1:]))
        return out

    def _program(self, idx):
        with pyro.plate("unit", len(self.train), subsample=idx, dim=self.unit_dim):
            poutine.condition(self.model, self._placed(self.train[idx]))()

    def _plates(self, idx):
        return pyro.plate("unit", len(self.train), subsample=idx, dim=self.unit_dim)

    def setup(self, train, held):
        super().setup(train, held)
        if self._standardise is not None:
            self._standardise.set_standardization({k: v[train] for k, v in self.values.items()})
        if self.latent:
            self.guide = AutoNormal(self._program, create_plates=self._plates, init_scale=0.1)
            self.guide._pyro_name = self.guide_name
        else:
            self.guide = _no_guide
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

    def heldout_loss(self) -> float:
        k = self.num_particles if self.latent else 1
        total = 0.0
        with torch.no_grad():
            for chunk in self.held.split(max(1, _CHUNK // k)):
                total += float(self._heldout_loglik(chunk, k).sum())
        return -total / len(self.held)

    def _heldout_loglik(self, rows, k):
        m = len(rows)
        with poutine.trace() as tr, pyro.plate("particles", k, dim=self.unit_dim - 1), \
                pyro.plate("unit", m, dim=self.unit_dim):
            poutine.condition(self.model, self._placed(rows))()
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
        store = pyro.get_param_store()
        for name in [n for n in store.keys() if n.startswith(self.guide_name)]:
            del store[name]


def _no_guide(*args, **kwargs):
    return None


def _categories(fn) -> int | None:
    if not fn.support.is_discrete:
        return None
    logits = getattr(fn, "logits", None)
    if isinstance(fn, pyro.distributions.Categorical) and logits is not None:
        return int(logits.shape[-1])
    return 0


def svi_objective(model, data, *, latent=(), ignore_extra=False, num_particles=32):
    if not callable(model):
        raise CausalError(f"model must be a NeuralSCM or a Pyro program (a callable), got {type(model).__name__}")
    return _SVI(model, data, latent, ignore_extra, num_particles)
