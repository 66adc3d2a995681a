"""Counterfactuals of fully observed units through a model's batched paths."""

from __future__ import annotations

import torch

from ..errors import EvidenceError
from ..program import default_event_dims
from ..rng import seeded
from . import overlap
from .dispatch import place_values
from .labels import to_dataset

__all__ = ["batched_counterfactual"]


def batched_counterfactual(paths, evidence, do, num_samples, seed, attrs):
    """The same Dataset as the Pyro path's exact abduction, or ``None`` when the paths decline."""
    values, n = place_values(paths, evidence, "evidence")
    actions, n_do = place_values(paths, do, "intervention")
    if n is not None and n_do is not None and n != n_do:
        raise EvidenceError(f"evidence has {n} units but the interventions have {n_do}")
    units = n if n is not None else n_do
    rows = units or 1
    reps = 1 if paths.deterministic_abduction else num_samples
    values = {k: _rows(v, rows).repeat((reps,) + (1,) * (v.dim() - 1)) for k, v in values.items()}
    actions = {
        k: _rows(v, rows).repeat((reps,) + (1,) * (v.dim() - 1)) if isinstance(v, torch.Tensor) else v
        for k, v in actions.items()
    }
    with seeded(seed), torch.no_grad():  # the answer leaves as labelled arrays: no graph to record
        answer = paths.counterfactual(values, actions)
    if answer is None:
        return None
    cf, flags = answer
    out, layout = {}, {}
    for name in paths.names:
        event = tuple(paths.prototype(name).event_shape)
        both = torch.stack([values[name], cf[name].to(values[name].dtype)]).reshape((2, reps, rows) + event)
        both = both.expand((2, num_samples, rows) + event)
        out[name] = both if units else both[:, :, 0]
        layout[name] = (default_event_dims(name, len(event)), ())
    lead = [("world", -3 if units else -2, 2), ("sample", -2 if units else -1, num_samples)]
    if units:
        lead.append(("unit", -1, units))
    attrs.update(abduction="exact", mechanisms=";".join(f"{k}={v}" for k, v in paths.mechanisms().items()))
    overlap.report(overlap.fractions(flags, lambda s: bool(paths.parents(s))), attrs, f"do({', '.join(do)})")
    return to_dataset(out, layout, lead, coords={"world": ["factual", "counterfactual"]}, attrs=attrs)


def _rows(v: torch.Tensor, rows: int) -> torch.Tensor:
    return v if v.shape[0] == rows else v.expand((rows,) + v.shape[1:])
