"""What a probe run tells about a program: sites, shapes, plates, and where free dims start."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import pyro.distributions as dist
import torch
from pyro.distributions.torch_distribution import MaskedDistribution

from ..errors import EvidenceError, UnknownSiteError
from ..graph.extract import exogenous_sites, sample_sites, trace_sites
from ..handlers.condition import check_evidence_value

__all__ = ["ProgramInfo", "probe", "seeded"]


@dataclass
class ProgramInfo:
    sites: dict[str, dict]
    first_free_dim: int  # the first batch dim (negative) left of every plate the model uses
    _read_parents: Callable[[], dict[str, list[str]]]

    @cached_property
    def parents(self) -> dict[str, list[str]]:
        """Read by a second, provenance-tracking trace, only when a query needs the graph."""
        return self._read_parents()

    @cached_property
    def exogenous(self) -> set[str]:
        if not any(s["infer"].get("_deterministic") or s["infer"].get("exogenous") for s in self.sites.values()):
            return set()  # explicit noise needs a deterministic child (or a mark): skip the graph
        return exogenous_sites(self.sites, self.parents)

    @property
    def names(self) -> list[str]:
        return list(self.sites)

    @property
    def endogenous(self) -> list[str]:
        return [n for n in self.sites if n not in self.exogenous]

    def shape(self, name: str) -> torch.Size:
        fn = self.sites[name]["fn"]
        return fn.batch_shape + fn.event_shape

    def event_shape(self, name: str) -> torch.Size:
        return self.sites[name]["fn"].event_shape

    def frames(self, name: str) -> dict[int, str]:
        """``{dim: plate name}`` of the vectorised plates a site sits in."""
        return {f.dim: f.name for f in self.sites[name]["cond_indep_stack"] if f.vectorized}

    def is_deterministic(self, name: str) -> bool:
        fn = self.sites[name]["fn"]
        while isinstance(fn, MaskedDistribution):
            fn = fn.base_dist
        return bool(self.sites[name]["infer"].get("_deterministic")) or isinstance(fn, dist.Delta)

    def descendants(self, name: str) -> set[str]:
        out: set[str] = set()
        for n in self.sites:
            if any(p == name or p in out for p in self.parents[n]):
                out.add(n)
        return out

    def check_names(self, names, role: str) -> None:
        missing = set(names) - set(self.sites)
        if missing:
            raise UnknownSiteError(missing, self.names, role=role)

    def place(self, name: str, value, role: str = "evidence") -> tuple[torch.Tensor, int | None]:
        """Validate a per-site value; returns it shaped for the unit plate, and the unit count.

        A value is either one unit (the site's own shape) or ``[n, *shape]`` for ``n`` units.
        """
        fn = self.sites[name]["fn"]
        value = check_evidence_value(value, fn, name) if role == "evidence" else torch.as_tensor(value)
        shape = self.shape(name)
        if value.shape == shape or value.dim() < len(shape):
            return value, None
        if value.dim() == len(shape) + 1 and value.shape[1:] == shape:
            n = value.shape[0]
            lead = -self.first_free_dim - 1 - len(fn.batch_shape)
            return value.reshape((n,) + (1,) * lead + tuple(shape)), n
        raise EvidenceError(
            f"{role} for site {name!r} has shape {tuple(value.shape)}; expected the site's shape "
            f"{tuple(shape)} for one unit or (n, *{tuple(shape)}) for n units"
        )


def probe(model, args=(), kwargs=None) -> ProgramInfo:
    """One cheap trace of ``model``: sites, shapes, plates; the graph is read lazily."""
    kwargs = kwargs or {}
    sites = sample_sites(model, args, kwargs)
    dims = [f.dim for s in sites.values() for f in s["cond_indep_stack"] if f.vectorized]
    return ProgramInfo(sites, min(dims, default=0) - 1, lambda: trace_sites(model, *args, **kwargs)[1])


@contextmanager
def seeded(seed: int | None):
    """Seed torch's RNG inside the block without disturbing the caller's RNG state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield
