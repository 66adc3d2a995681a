"""Errors raised on bad input.

Every error the library raises because of what a user passed in is a :class:`CausalError`
(itself a :class:`ValueError`) whose message names the site or argument at fault.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CausalError",
    "CausalWarning",
    "CyclicGraphError",
    "DuplicateSiteError",
    "EvidenceError",
    "NonInvertibleError",
    "UnknownSiteError",
    "UnsupportedDistributionError",
]


class CausalError(ValueError):
    """Base class of every bad-input error in causalppl.

    Every subclass is constructible from one message (Pyro's machinery re-raises errors as
    ``type(e)(message)``, with the trace's shapes appended).

    Example:
        >>> import causalppl as cp
        >>> issubclass(cp.CausalError, ValueError)
        True
    """


class UnknownSiteError(CausalError, KeyError):
    """A name given for an intervention, evidence or query is not a site of the program.

    Like every causalppl error it is constructible from its message alone (Pyro re-raises
    errors as ``type(e)(message)``); :meth:`naming` builds the message from the names.

    Example:
        >>> err = UnknownSiteError.naming(["z"], ["x", "y"], role="intervention")
        >>> str(err)
        "intervention 'z' is never sampled by the program; the sites that exist are: 'x', 'y'"
        >>> str(type(err)(str(err) + " (re-raised)")).endswith("(re-raised)")
        True
    """

    def __init__(self, message: str, *, names: Iterable[str] = (), existing: Iterable[str] = ()):
        super().__init__(message)
        self.names, self.existing = sorted(names), list(existing)

    @classmethod
    def naming(cls, names: Iterable[str], existing: Iterable[str], role: str = "site") -> UnknownSiteError:
        """The error for ``names`` that are not among the ``existing`` sites."""
        names, existing = sorted(names), list(existing)
        missing = ", ".join(repr(n) for n in names)
        have = ", ".join(repr(n) for n in existing) or "none"
        return cls(
            f"{role} {missing} is never sampled by the program; the sites that exist are: {have}",
            names=names,
            existing=existing,
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


class CausalWarning(UserWarning):
    """A query's answer rests on an assumption the data may not support (an extrapolation).

    Filter it like any warning: ``warnings.filterwarnings("ignore", category=cp.CausalWarning)``.
    """
