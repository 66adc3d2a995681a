"""When a query takes a model's batched paths, and the value checks it runs there.

The queries ask :func:`paths_for` first: a model that offers batched paths
(:mod:`causalppl.program.batched`) and is called without arguments answers in batched
form; otherwise the query runs the Pyro program. The checks on names and values are the
ones the Pyro path runs (:func:`causalppl.handlers.values.site_value` against each site's
law), so both paths refuse the same input.
"""

from __future__ import annotations

import torch

from ..errors import CausalError, EvidenceError, UnknownSiteError
from ..handlers.intervention import is_shift
from ..handlers.values import site_value
from ..program import BatchedPaths, batched_paths

__all__ = ["check_one_value", "paths_for", "place_values"]


def paths_for(model, model_args, model_kwargs) -> BatchedPaths | None:
    """The model's batched paths when the query may take them."""
    if model_args or model_kwargs:
        return None
    return batched_paths(model)


def place_values(paths: BatchedPaths, values: dict, role: str) -> tuple[dict, int | None]:
    """Check ``values`` against the sites; each becomes ``[n, *event]``.

    Returns the placed values and the unit count ``n`` (``None`` when every value is one
    unit's; callables are kept as they are).
    """
    unknown = set(values) - set(paths.names)
    if unknown:
        raise UnknownSiteError.naming(unknown, paths.names, role=role)
    checked, sizes = {}, {}
    for name, v in values.items():
        if role == "intervention" and is_shift(v):
            checked[name] = v
            continue
        law = paths.prototype(name)
        t = site_value(v, law, name, role)
        event = tuple(law.event_shape)
        if t.dim() == len(event):
            checked[name] = t
        elif t.dim() == len(event) + 1:
            checked[name], sizes[name] = t, t.shape[0]
        else:
            raise EvidenceError(
                f"{role} for site {name!r} has shape {tuple(t.shape)}; expected {event} for one unit "
                f"or (n, *{event}) for n units"
            )
    counts = set(sizes.values())
    if len(counts) > 1:
        raise EvidenceError(f"{role} values disagree on the number of units: {sizes}")
    n = counts.pop() if counts else None
    out = {
        name: (t if not isinstance(t, torch.Tensor) or name in sizes else t.expand((n or 1,) + t.shape))
        for name, t in checked.items()
    }
    return out, n


def check_one_value(do: dict, shape_of, query: str) -> None:
    """Refuse an intervention value with more dims than the site: ``query`` (sampling, effects)
    applies one value to every sample, and extra dims would line up with its own plates."""
    for name, value in do.items():
        if is_shift(value) or not isinstance(value, (torch.Tensor, list, tuple)):
            continue
        value = torch.as_tensor(value)
        shape = tuple(shape_of(name))
        if value.dim() > len(shape):
            raise CausalError(
                f"intervention for site {name!r} has shape {tuple(value.shape)}, more dims than the site's shape "
                f"{shape}: {query} applies one value to every sample (use a callable of the natural value for "
                "values that differ between units)"
            )
