"""Overlap: how many units an intervention puts where the site's own law almost never goes.

For an intervention on a site whose law depends on its parents, every query reports in
``attrs["extrapolation_<site>"]`` the fraction of its units (and samples) for which the
intervened value is improbable under that law given the unit's parents
(:func:`causalppl.noise.typicality.improbable`: outside the law's central 99%, or a
category of probability under 1%). Above :data:`WARN_FRACTION` it warns with a
:class:`causalppl.CausalWarning`: a fitted model's answer there is an extrapolation, not
something the data showed.

Example:
    >>> import torch
    >>> fractions({"h": torch.tensor([True, False, False, False])}, lambda s: True)
    {'h': 0.25}
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from ..errors import CausalWarning
from ..noise.typicality import LEVEL

__all__ = ["WARN_FRACTION", "fractions", "report"]

WARN_FRACTION = 0.1
"""Warn when more than one unit in ten is improbable (a value drawn from the law itself is improbable
for about 1% of the units)."""


def fractions(flags: dict[str, torch.Tensor], has_parents: Callable[[str], bool]) -> dict[str, float]:
    """The share of ``True`` in each site's flags, for the sites whose law has parents."""
    return {site: float(f.double().mean()) for site, f in flags.items() if f is not None and has_parents(site)}


def report(found: dict[str, float], attrs: dict | None, what: str) -> None:
    """Put each fraction in ``attrs`` and warn about the ones above :data:`WARN_FRACTION`."""
    if attrs is not None:
        for site, share in found.items():
            attrs[f"extrapolation_{site}"] = share
    loud = {s: f for s, f in found.items() if f > WARN_FRACTION}
    if loud:
        listing = ", ".join(f"{s!r} for {f:.0%} of them" for s, f in loud.items())
        warnings.warn(
            CausalWarning(
                f"{what} puts units where the intervened site's own law given its parents almost never goes "
                f"(outside its central {1 - LEVEL:.0%}): {listing}. The answer there extrapolates the model beyond "
                "what its data showed; check the overlap (attrs['extrapolation_<site>'])"
            ),
            stacklevel=3,
        )
