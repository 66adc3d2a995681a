"""What a probe run tells about a program: sites, shapes, plates, observed sites, and where
the free batch dims start (the queries put their sample, world and unit plates there)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pyro.distributions as dist
import torch
from pyro.distributions.torch_distribution import MaskedDistribution

from ..errors import CausalError, EvidenceError, UnknownSiteError
from ..handlers.values import site_value
from .trace import exogenous_sites, is_model_site, sample_sites, trace_sites

__all__ = ["QUERY_DIMS", "ProgramInfo", "default_event_dims", "probe", "probed"]

QUERY_DIMS = frozenset({"world", "sample", "unit"})  # the dims the queries add to every result


def default_event_dims(name: str, rank: int) -> tuple[str, ...]:
    """``{site}_dim_{i}``: the names of the event dims of a site that declares none."""
    return tuple(f"{name}_dim_{i}" for i in range(rank))


@dataclass
class ProgramInfo:
    sites: dict[str, dict]
    first_free_dim: int  # the first batch dim (negative) left of every plate the model uses
    _read_parents: Callable[[], dict[str, list[str]]]
    from_cache: bool = field(default=False, compare=False)
    _entry: dict | None = field(default=None, compare=False, repr=False)  # this program's cache entry

    @cached_property
    def parents(self) -> dict[str, list[str]]:
        """Read by a second, provenance-tracking trace when a query first needs the graph; kept
        with the cached sites (a vectorised program cannot branch on sampled values, so its graph
        is fixed by its arguments and sites, which every query run checks)."""
        if self._entry is not None and self._entry.get("parents") is not None:
            return self._entry["parents"]
        found = self._read_parents()
        if self._entry is not None:
            self._entry["parents"] = found
        return found

    @cached_property
    def exogenous(self) -> set[str]:
        if not any(s["infer"].get("_deterministic") or s["infer"].get("exogenous") for s in self.sites.values()):
            return set()  # explicit noise needs a deterministic child (or a mark): skip the graph
        return exogenous_sites(self.sites, self.parents)

    @cached_property
    def observed(self) -> set[str]:
        """Sites the program observes itself (``obs=`` or ``cp.condition`` inside the model).

        Intervened (``cp.do``) and ``pyro.deterministic`` sites also carry values, but they
        are not evidence about the unit's noise.
        """
        return {
            n
            for n, s in self.sites.items()
            if s["is_observed"] and not s["infer"].get("do") and not s["infer"].get("_deterministic")
        }

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

    def event_dims(self, name: str) -> tuple[str, ...]:
        """The names of a site's event dims: its own, declared as
        ``pyro.sample(name, law, infer={"event_dims": ("channel", "height", "width")})``, or
        ``{site}_dim_{i}``."""
        shape = tuple(self.event_shape(name))
        declared = self.sites[name]["infer"].get("event_dims")
        if declared is None:
            return default_event_dims(name, len(shape))
        names = tuple(declared) if isinstance(declared, (tuple, list)) else ()
        if (
            len(names) != len(shape)
            or not all(isinstance(d, str) and d for d in names)
            or len(set(names)) != len(names)
            or set(names) & QUERY_DIMS
        ):
            raise CausalError(
                f"site {name!r} declares event_dims={declared!r}: give {len(shape)} distinct names, one per "
                f"event dim of its event shape {shape}, other than the queries' own {sorted(QUERY_DIMS)}"
            )
        return names

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

    def confirm(self, nodes: dict[str, dict]) -> None:
        """Raise :class:`StaleProbe` when a cached probe disagrees with a query's sites
        (``Trace.nodes`` or :attr:`TwinWorldMessenger.sites`)."""
        if not self.from_cache:
            return
        run = [(n, s) for n, s in nodes.items() if is_model_site(s)]
        if [n for n, _ in run] != list(self.sites):
            raise StaleProbe("the program's sites changed")
        for name, site in run:
            fn, then = site["fn"], self.sites[name]["fn"]
            k = len(then.batch_shape)
            frames = {f.dim: f.name for f in site["cond_indep_stack"] if f.vectorized and f.dim > self.first_free_dim}
            if (
                fn.event_shape != then.event_shape
                or fn.batch_shape[len(fn.batch_shape) - k :] != then.batch_shape
                or frames != self.frames(name)
            ):
                raise StaleProbe(f"site {name!r} changed shape or plates")

    def check_names(self, names, role: str) -> None:
        missing = set(names) - set(self.sites)
        if missing:
            raise UnknownSiteError.naming(missing, self.names, role=role)

    def check_not_observed(self, names, role: str) -> None:
        """Sites the program observes itself cannot be given again as ``role``."""
        twice = sorted(set(names) & self.observed)
        if twice:
            raise EvidenceError(
                f"site(s) {twice} are already observed inside the program (obs= or cp.condition); "
                f"they cannot also be {role}"
            )

    def unit_shape(self, name: str, n: int) -> tuple[int, ...]:
        """The shape of ``n`` units' values of ``name`` under a unit plate at :attr:`first_free_dim`:
        the unit dim, size-1 dims out to the site's own batch dims, then the site's shape."""
        lead = -self.first_free_dim - 1 - len(self.sites[name]["fn"].batch_shape)
        return (n,) + (1,) * lead + tuple(self.shape(name))

    def place(self, name: str, value, role: str = "evidence") -> tuple[torch.Tensor, int | None]:
        """Validate a per-site value; returns it shaped for the unit plate, and the unit count.

        A value is either one unit (the site's own shape) or ``[n, *shape]`` for ``n`` units.
        """
        fn = self.sites[name]["fn"]
        value = site_value(value, fn, name, role)
        shape = self.shape(name)
        if value.shape == shape or value.dim() < len(shape):
            return value, None
        if value.dim() == len(shape) + 1 and value.shape[1:] == shape:
            n = value.shape[0]
            return value.reshape(self.unit_shape(name, n)), n
        raise EvidenceError(
            f"{role} for site {name!r} has shape {tuple(value.shape)}; expected the site's shape "
            f"{tuple(shape)} for one unit or (n, *{tuple(shape)}) for n units"
        )


def probe(model, args=(), kwargs=None, *, cache: bool = True) -> ProgramInfo:
    """One cheap trace of ``model``: sites, shapes, plates; the graph is read lazily.

    The sites of a model called with no arguments (or hashable ones) are cached per model
    object and default dtype, so a query loop does not pay a second run of the program per
    call, and the graph (``parents``, read by a provenance-tracking run that costs ten plain
    ones) is kept with them once a query has needed it. A cached answer is only a guess:
    queries run through :func:`probed`, which checks the query's own trace against it and
    starts over with a fresh probe on any mismatch.
    """
    kwargs = kwargs or {}
    key = _cache_key(args, kwargs)
    per_model = _per_model(model) if cache and key is not None else None
    if per_model is not None and key in per_model:
        entry = per_model[key]
        return ProgramInfo(
            entry["sites"], entry["first_free"], _parents_reader(model, args, kwargs), from_cache=True, _entry=entry
        )
    sites = sample_sites(model, args, kwargs)
    dims = [f.dim for s in sites.values() for f in s["cond_indep_stack"] if f.vectorized]
    entry = {"sites": sites, "first_free": min(dims, default=0) - 1, "parents": None}
    if per_model is not None:
        per_model[key] = entry
    return ProgramInfo(
        sites,
        entry["first_free"],
        _parents_reader(model, args, kwargs),
        _entry=entry if per_model is not None else None,
    )


class StaleProbe(Exception):
    """A query run disagrees with a cached probe (internal: :func:`probed` re-probes)."""


def probed(model, args, kwargs, query: Callable[[ProgramInfo], object]):
    """``query(info)`` with a cached probe when there is one; once more with a fresh probe when
    the cached one was stale (the query raised, or its trace disagreed via :meth:`confirm`)."""
    info = probe(model, args, kwargs)
    if not info.from_cache:
        return query(info)
    try:
        return query(info)
    except Exception:  # noqa: BLE001 - any failure on a cached guess is retried on a fresh probe
        _evict(model)
        return query(probe(model, args, kwargs, cache=False))


def _parents_reader(model, args, kwargs):
    return lambda: trace_sites(model, *args, **kwargs)[1]


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _per_model(model) -> dict | None:
    try:
        return _CACHE.setdefault(model, {})
    except TypeError:  # not weak-referenceable or not hashable: no caching
        return None


def _evict(model) -> None:
    try:
        _CACHE.pop(model, None)
    except TypeError:
        pass


def _cache_key(args, kwargs):
    """Arguments that fix a program's structure, or ``None`` when they cannot be keyed safely."""
    parts = []
    for v in (*args, *(kwargs[k] for k in sorted(kwargs))):
        if isinstance(v, torch.Tensor):
            parts.append(("tensor", tuple(v.shape), v.dtype))
        elif isinstance(v, (int, float, str, bool, type(None))):
            parts.append(v)
        else:
            return None
    return (torch.get_default_dtype(), tuple(sorted(kwargs)), tuple(parts))
