"""``sample``: forward (observational or interventional) samples as a Dataset."""

from __future__ import annotations

from collections.abc import Mapping

import pyro
import pyro.poutine as poutine
import xarray as xr

from ..errors import CausalError
from ..handlers.deterministic import DeterministicShapeMessenger
from ..handlers.do import do as do_handler
from ..rng import seeded
from ._program import probe
from ._xr import to_dataset

__all__ = ["sample"]


def sample(
    model,
    num_samples: int = 1000,
    *,
    do: Mapping[str, object] | None = None,
    seed: int | None = 0,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
) -> xr.Dataset:
    """Draw ``num_samples`` joint samples of every endogenous site, optionally under ``do``.

    All samples are drawn in one vectorised run (a ``pyro.plate("sample", ...)`` left of
    the model's own plates).

    Args:
        model: a Pyro program (one unit).
        num_samples: how many joint samples.
        do: interventions ``{site: value or callable}``.
        seed: seeds torch inside the call only; ``None`` uses the global RNG.

    Returns:
        One data variable per endogenous site with dims ``("sample", ...)``; event dims are
        named ``{site}_dim_{i}`` and the model's plates keep their names.

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
    model_kwargs = model_kwargs or {}
    if not isinstance(num_samples, int) or num_samples < 1:
        raise CausalError(f"num_samples must be a positive int, got {num_samples!r}")
    program = do_handler(model, do) if do else model
    with seeded(seed):
        info = probe(program, model_args, model_kwargs)
        dim = info.first_free_dim
        with poutine.trace() as tr, DeterministicShapeMessenger(), pyro.plate("sample", num_samples, dim=dim):
            program(*model_args, **model_kwargs)
    values = {n: tr.trace.nodes[n]["value"] for n in info.endogenous}
    attrs = {"query": "sample", "do": repr(dict(do or {})), "seed": -1 if seed is None else seed}
    return to_dataset(values, info, [("sample", dim, num_samples)], attrs=attrs)
