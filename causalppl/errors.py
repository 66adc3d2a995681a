"""Errors raised on bad input.

Every error the library raises because of what a user passed in is a :class:`CausalError`
(itself a :class:`ValueError`) whose message names the site or argument at fault.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CausalError",
    "CyclicGraphError",
    "DuplicateSiteError",
    "EvidenceError",
    "NonInvertibleError",
    "UnknownSiteError",
    "UnsupportedDistributionError",
]


class CausalError(ValueError):
    """Base class of every bad-input error in causalppl.

    Example:
        >>> import causalppl as cp
        >>> issubclass(cp.CausalError, ValueError)
        True
    """


class UnknownSiteError(CausalError, KeyError):
    """A name given for an intervention, evidence or query is not a site of the program."""

    def __init__(self, names: Iterable[str], existing: Iterable[str], role: str = "site"):
        self.names = sorted(names)
        self.existing = list(existing)
        missing = ", ".join(repr(n) for n in self.names)
        have = ", ".join(repr(n) for n in self.existing) or "none"
        super().__init__(
            f"{role} {missing} is never sampled by the program; the sites that exist are: {have}"
        )

    __str__ = ValueError.__str__  # KeyError would quote the whole message


class DuplicateSiteError(CausalError):
    """The program samples the same site name twice in one run."""


class CyclicGraphError(CausalError):
    """A graph specification contains a directed cycle."""


class EvidenceError(CausalError):
    """Evidence of the wrong shape, dtype, or with NaN/inf, or inconsistent with a mechanism."""


class NonInvertibleError(CausalError):
    """Exact abduction was asked for through a mechanism that cannot be inverted."""


class UnsupportedDistributionError(CausalError):
    """A site's distribution has no known exogenous-noise form (needed for counterfactuals)."""
