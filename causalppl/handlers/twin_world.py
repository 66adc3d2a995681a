"""Twin worlds: the factual and one counterfactual world, batched, sharing all noise."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import pyro
import torch
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ..errors import CausalError, EvidenceError, NonInvertibleError
from ..noise import noise_model
from ._factory import make_handler
from .condition import check_evidence_value
from .deterministic import fix_deterministic_event_dim
from .do import as_value

__all__ = ["TwinWorldMessenger", "twin_world", "FACTUAL", "COUNTERFACTUAL"]

FACTUAL, COUNTERFACTUAL = 0, 1


class TwinWorldMessenger(Messenger):
    """Run a program in the factual and the counterfactual world at once.

    The worlds are a ``pyro.plate("world", 2, dim=dim)``: index 0 is factual, 1 is
    counterfactual. Every site's exogenous noise ``u`` is drawn (or abducted) once and
    pushed through both worlds' mechanisms, so the worlds differ only downstream of the
    interventions, which apply in the counterfactual world alone. This holds for *every*
    site with a known noise form (location-scale, flows, quantile, Gumbel-max), not only
    for sites written with explicit noise.

    Observed sites (``evidence``, or sites already observed when the hook runs) take
    their value in the factual world; their noise is recovered from it (abduction: an
    exact inverse, or an exact posterior draw for Gumbel-max sites) and pushed into the
    counterfactual world. ``log_weight`` accumulates ``log p(evidence | parents)`` of the
    factual world, which importance sampling uses when some noise is latent.

    Put this handler outside every ``pyro.plate`` (it must see the broadcast site).
    After a run, ``sites`` holds every sample site's message in execution order (as a
    trace's ``nodes`` would, uncopied) and ``noise`` each site's exogenous noise (an
    observed site's is abducted when first read, if its worlds did not need it).

    Args:
        actions: ``{site: value or callable}`` applied in the counterfactual world.
        evidence: ``{site: value}`` observed in the factual world.
        noise: ``{site: u}`` noise to use instead of prior draws (from an inference).
        dim: the batch dim of the world plate; left of every plate the program uses.
        keep_dims: batch dims kept separate in ``log_weight`` (the others are summed).
        factual_actions: interventions in the factual world (paired potential outcomes,
            as :func:`causalppl.effect` uses; evidence is then read in the intervened world).
        weigh: accumulate ``log_weight`` (off saves the log-densities when nothing reads them).
        checked_evidence: ``evidence`` was already validated and shaped against the program's
            sites (as the queries do); skips checking it again at every site.

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(2 * x, 1.0))
        >>> tw = cp.twin_world(model, actions={"x": 1.0}, evidence={"x": 0.0, "y": 0.5}, dim=-1)
        >>> tw().tolist()   # y = 2x + u with u = 0.5: factual 0.5, counterfactual 2.5
        [0.5, 2.5]
    """

    def __init__(
        self,
        actions: Mapping[str, object] | None = None,
        evidence: Mapping[str, object] | None = None,
        noise: Mapping[str, torch.Tensor] | None = None,
        dim: int = -4,
        factual_actions: Mapping[str, object] | None = None,
        keep_dims: tuple[int, ...] = (),
        weigh: bool = True,
        checked_evidence: bool = False,
    ):
        super().__init__()
        if dim >= 0:
            raise CausalError(f"dim of the world plate must be negative, got {dim}")
        self.actions = dict(actions or {})
        self.factual_actions = dict(factual_actions or {})
        self.evidence = dict(evidence or {})
        self.given_noise = dict(noise or {})
        self.dim = dim
        self.keep_dims = tuple(keep_dims)
        self.weigh = weigh
        self.checked_evidence = checked_evidence
        self._plate = pyro.plate("world", 2, dim=dim)

    def __enter__(self):
        self.log_weight = torch.zeros(())
        self.noise = LazyNoise()
        self.mechanisms: dict[str, str] = {}
        self.sites: dict[str, dict] = {}  # every sample site's message, in execution order
        out = super().__enter__()
        self._plate.__enter__()
        return out

    def __exit__(self, *exc):
        self._plate.__exit__(*exc)
        return super().__exit__(*exc)

    def _pyro_sample(self, msg):
        if site_is_subsample(msg) or msg["infer"].get("_cp_internal"):
            return
        self.sites[msg["name"]] = msg  # the live message: its value is final once this hook ran
        if msg["value"] is not None and not msg["is_observed"]:
            return
        fix_deterministic_event_dim(msg)
        name, fn = msg["name"], msg["fn"]
        batch_shape, event_shape = fn.batch_shape, fn.event_shape
        if len(batch_shape) < -self.dim or batch_shape[self.dim] != 2:
            raise CausalError(
                f"site {name!r} is not inside the world plate at dim {self.dim}: enter the twin-world "
                "handler outside every plate, at a dim left of all of them"
            )
        nm = noise_model(fn, name)
        self.mechanisms[name] = nm.describe()
        shared = list(batch_shape)
        shared[self.dim] = 1  # one draw of noise serves both worlds
        shared = torch.Size(shared)
        observed = name in self.evidence or msg["is_observed"]
        if observed:
            obs = self.evidence.get(name, msg["value"])
            if not (self.checked_evidence and name in self.evidence):
                obs = check_evidence_value(obs, fn, name)
            obs = obs.expand(batch_shape + event_shape)
            if not nm.invertible:
                raise NonInvertibleError(getattr(nm, "why", None) or f"site {name!r} is not invertible")
            ev_dim = self.dim - len(event_shape)
            if nm.deterministic:
                # No noise to recover: the evidence must be what the parents compute.
                pushed, u = nm.push(None).expand(obs.shape), obs.new_zeros(())
                fact = _factual(pushed, ev_dim).to(obs.dtype)
                if not torch.allclose(fact, _factual(obs, ev_dim), rtol=1e-6, atol=1e-8):
                    raise EvidenceError(
                        f"evidence for deterministic site {name!r} differs from the value its "
                        "mechanism computes from its parents"
                    )
                value = torch.where(self._cf_mask(batch_shape, event_shape), pushed, obs)
            else:
                abducted = functools.partial(nm.abduct_slice, obs, self.dim - len(nm.noise_event_shape), FACTUAL)
                if obs.is_floating_point():
                    # Factual slice is the evidence exactly; the counterfactual slice moves by the
                    # change of mechanism between worlds (exactly zero where parents agree). When
                    # that change does not depend on the noise, the noise is abducted only if read.
                    shift = nm.noise_free_shift(ev_dim, FACTUAL)
                    u = abducted if shift is not None else abducted()
                    value = obs + (shift if shift is not None else nm.world_shift(u, ev_dim, FACTUAL))
                else:
                    u = abducted()
                    value = torch.where(self._cf_mask(batch_shape, event_shape), nm.push(u), obs)
            if self.weigh:
                self._add_log_weight(_factual(fn.log_prob(obs), self.dim))
        else:
            if name in self.given_noise:
                u = self.given_noise[name]
            else:
                u = nm.noise_dist(shared).sample()
            value = nm.push(u)
        value = value.expand(batch_shape + event_shape)
        for world, actions in ((FACTUAL, self.factual_actions), (COUNTERFACTUAL, self.actions)):
            if name in actions:
                value = self._intervene(actions[name], world, name, fn, value, batch_shape, event_shape)
        self.noise[name] = u
        msg["value"] = value
        msg["is_observed"] = observed

    def _cf_mask(self, batch_shape, event_shape, world: int = COUNTERFACTUAL) -> torch.Tensor:
        """True in ``world``; broadcasts against ``batch_shape + event_shape``."""
        rank = len(batch_shape) + len(event_shape)
        return _world_mask(rank, rank - len(event_shape) + self.dim, world)

    def _intervene(self, action, world, name, fn, value, batch_shape, event_shape):
        target = action(value) if callable(action) else action
        target = as_value(target, fn, name)
        return torch.where(self._cf_mask(batch_shape, event_shape, world), target.to(value.dtype), value)

    def _add_log_weight(self, lp: torch.Tensor):
        keep = {d for d in self.keep_dims if -lp.dim() <= d}
        dims = [d for d in range(-lp.dim(), 0) if d not in keep and lp.shape[d] != 1]
        if dims:
            lp = lp.sum(dims, keepdim=True)
        self.log_weight = self.log_weight + lp


class LazyNoise(Mapping):
    """``{site: noise}`` whose entries may be computed on first read (given as callables)."""

    def __init__(self):
        self._items: dict[str, object] = {}

    def __setitem__(self, name: str, value) -> None:
        self._items[name] = value

    def __getitem__(self, name: str) -> torch.Tensor:
        value = self._items[name]
        if callable(value):
            value = self._items[name] = value()
        return value

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@functools.lru_cache(maxsize=256)
def _world_mask(rank: int, axis: int, world: int) -> torch.Tensor:
    shape = [1] * rank
    shape[axis] = 2
    return (torch.arange(2) == world).reshape(shape)


def _factual(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The factual slice along ``dim`` (kept as a size-1 dim)."""
    return t.narrow(dim, FACTUAL, 1) if t.shape[dim] == 2 else t


twin_world = make_handler(TwinWorldMessenger)
