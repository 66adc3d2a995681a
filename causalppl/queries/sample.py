"""``sample``: forward (observational or interventional) samples as a Dataset."""

from __future__ import annotations

from collections.abc import Mapping

import pyro
import pyro.poutine as poutine
import torch
import xarray as xr

from .. import checks
from ..handlers.deterministic import DeterministicShapeMessenger
from ..handlers.do import DoMessenger
from ..handlers.intervention import check_actions
from ..noise.typicality import improbable
from ..program import default_event_dims, guarded, probe
from ..rng import seeded
from . import overlap
from .dispatch import check_one_value, paths_for, place_values
from .labels import describe_actions, layout_of, to_dataset

__all__ = ["sample"]


def sample(
    model,
    num_samples: int = 1000,
    *,
    do: Mapping[str, object] | None = None,
    seed: int | None = None,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> xr.Dataset:
    """Draw ``num_samples`` joint samples of every endogenous site, optionally under ``do``.

    All samples are drawn in one vectorised run (a ``pyro.plate("sample", ...)`` left of
    the model's own plates), or through the model's batched paths when it offers them.

    Args:
        model: a Pyro program (one unit).
        num_samples: how many joint samples.
        do: interventions ``{site: value or callable}``.
        seed: seeds torch inside the call only; ``None`` (default) draws fresh randomness
            from torch's global generator, as Pyro does.
        model_args, model_kwargs: arguments the program is called with.

    Returns:
        One data variable per endogenous site with dims ``("sample", ...)``; event dims are
        named ``{site}_dim_{i}`` unless the site names them (``pyro.sample(name, law,
        infer={"event_dims": ("channel", "height", "width")})``), and the model's plates keep
        their names. For a site with parents under ``do``, ``attrs["extrapolation_<site>"]``
        is the share of samples whose intervened value its own law almost never produces (a
        :class:`causalppl.CausalWarning` above 10%).

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(x + 1.0, 0.1))
        >>> ds = cp.sample(model, 500, do={"x": 2.0}, seed=0)
        >>> ds.y.dims, round(float(ds.y.mean()), 1)
        (('sample',), 3.0)
    """
    checks.model(model)
    num_samples = checks.positive_int(num_samples, "num_samples")
    do = check_actions(do, "do")
    checks.seed(seed)
    model_args, model_kwargs = checks.model_arguments(model_args, model_kwargs)
    attrs = {"query": "sample", "do": describe_actions(do), "seed": -1 if seed is None else seed}
    paths = paths_for(model, model_args, model_kwargs)
    if paths is not None:
        check_one_value(do, lambda n: paths.prototype(n).batch_shape + paths.prototype(n).event_shape, "cp.sample")
        actions, _ = place_values(paths, do, "intervention")
        with seeded(seed), torch.no_grad():  # the answer leaves as labelled arrays: no graph to record
            answer = paths.push(paths.draw_noise(num_samples), actions)
        if answer is not None:
            values, flags = answer
            overlap.report(overlap.fractions(flags, lambda s: bool(paths.parents(s))), attrs, f"do({_names(do)})")
            layout = {n: (default_event_dims(n, len(paths.prototype(n).event_shape)), ()) for n in paths.names}
            return to_dataset({n: values[n] for n in paths.names}, layout, [("sample", -1, num_samples)], attrs=attrs)
    natural = probe(model, model_args, model_kwargs) if do else None  # the model's own sites and parents
    if natural is not None:
        natural.check_names(do, "intervention")
        check_one_value(do, natural.shape, "cp.sample")
    program = guarded(DoMessenger(do)(model) if do else model)
    with seeded(seed), torch.no_grad():
        info = probe(program, model_args, model_kwargs)
        dim = info.first_free_dim
        with poutine.trace() as tr, DeterministicShapeMessenger(), pyro.plate("sample", num_samples, dim=dim):
            program(*model_args, **model_kwargs)
    nodes = tr.trace.nodes
    flags = {n: improbable(nodes[n]["infer"]["do_law"], nodes[n]["value"], n) for n in do}
    if flags:  # the parents are those of the model without the intervention (which cuts them)
        overlap.report(overlap.fractions(flags, lambda s: bool(natural.parents[s])), attrs, f"do({_names(do)})")
    values = {n: nodes[n]["value"] for n in info.endogenous}
    return to_dataset(values, layout_of(info, values), [("sample", dim, num_samples)], attrs=attrs)


def _names(do) -> str:
    return ", ".join(do)
