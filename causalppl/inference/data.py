"""Tabular data in (dict of tensors, DataFrame, xarray Dataset) -> checked tensors per site."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import CausalError

__all__ = ["ColumnSpec", "as_columns", "as_tensors"]


@dataclass(frozen=True)
class ColumnSpec:
    """What one column must hold per row: its shape, and whether (and how) it is discrete.

    ``categories``: ``None`` for a continuous column, ``K`` for categories ``0..K-1``,
    ``0`` for integer values of unknown range.
    """

    shape: tuple[int, ...] = ()
    categories: int | None = None

    @classmethod
    def of(cls, fn) -> ColumnSpec:
        """The column a site with law ``fn`` (one unit) needs."""
        shape = tuple(fn.batch_shape + fn.event_shape)
        if not fn.support.is_discrete:
            return cls(shape)
        upper = getattr(fn.support, "upper_bound", None)
        return cls(shape, int(upper) + 1 if isinstance(upper, int) else 0)


def as_columns(data) -> dict[str, object]:
    """``{column name: array-like}`` from a dict, a pandas DataFrame or an xarray Dataset."""
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return {str(c) if not isinstance(c, str) else c: data[c] for c in data.columns}
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    try:
        import xarray as xr

        if isinstance(data, xr.Dataset):
            return {str(k): data[k].values for k in data.data_vars}
    except ImportError:  # pragma: no cover - xarray is a dependency
        pass
    if isinstance(data, Mapping):
        for k in data:
            if not isinstance(k, str):
                raise CausalError(f"data column names must be strings, got {k!r}")
        return dict(data)
    raise CausalError(
        f"data must be a dict of tensors, a pandas DataFrame or an xarray Dataset, got {type(data).__name__}"
    )


def _tensor(name: str, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if hasattr(value, "to_numpy"):  # a pandas Series
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "iuf":
        raise CausalError(f"column {name!r} has dtype {arr.dtype}; expected numbers")
    return torch.from_numpy(np.array(arr, copy=True, order="C"))  # pandas may hand out read-only views


def _check_column(name: str, t: torch.Tensor, spec: ColumnSpec, dtype: torch.dtype) -> torch.Tensor:
    if t.dtype == torch.bool:
        t = t.to(dtype)
    if t.is_complex() or not (
        t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
    ):
        raise CausalError(f"column {name!r} has dtype {t.dtype}; expected real numbers")
    if t.dim() != 1 + len(spec.shape) or tuple(t.shape[1:]) != spec.shape:
        want = "(n" + "".join(f", {d}" for d in spec.shape) + ("," if not spec.shape else "") + ")"
        raise CausalError(f"column {name!r} has shape {tuple(t.shape)}; node {name!r} expects {want}")
    if t.is_floating_point() and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).reshape(t.shape[0], -1).any(-1).sum())
        raise CausalError(f"column {name!r} has NaN or inf in {bad} row(s)")
    if spec.categories is None:
        return t.to(dtype)
    k = spec.categories
    if t.is_floating_point() and not torch.equal(t, t.round()):
        raise CausalError(f"column {name!r} is discrete; its values must be integers")
    t = t.long()
    if k and t.numel() and (t.min() < 0 or t.max() >= k):
        raise CausalError(f"column {name!r} is categorical with {k} categories; found values outside 0..{k - 1}")
    return t


def as_tensors(
    data,
    specs: Mapping[str, ColumnSpec],
    *,
    latent: Iterable[str] = (),
    ignore_extra: bool = False,
    dtype: torch.dtype | None = None,
) -> tuple[dict[str, torch.Tensor], int]:
    """Check ``data`` against the nodes and return ``({node: tensor [n, ...]}, n)``.

    Raises:
        CausalError: naming the column at fault: a node missing from ``data`` (and not
            declared ``latent``), an unknown column (unless ``ignore_extra``), a wrong
            shape or dtype, NaN/inf, a category out of range, unequal row counts.

    Example:
        >>> specs = {"x": ColumnSpec(), "y": ColumnSpec()}
        >>> values, n = as_tensors({"x": [0.0, 1.0], "y": [1.0, 2.0]}, specs)
        >>> n, values["y"].tolist()
        (2, [1.0, 2.0])
        >>> as_tensors({"x": [0.0, float("nan")], "y": [1.0, 2.0]}, specs)
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: column 'x' has NaN or inf in 1 row(s)
    """
    dtype = dtype or torch.get_default_dtype()
    columns = as_columns(data)
    latent = set(latent)
    bad_latent = latent - set(specs)
    if bad_latent:
        raise CausalError(f"latent names {sorted(bad_latent)} are not nodes; nodes: {list(specs)}")
    extra = [c for c in columns if c not in specs]
    if extra and not ignore_extra:
        raise CausalError(
            f"data has column(s) {extra} that are not nodes of the model (nodes: {list(specs)}); "
            "pass ignore_extra=True to drop them"
        )
    observed_latent = sorted(latent & set(columns))
    if observed_latent:
        raise CausalError(f"node(s) {observed_latent} are declared latent but data has them")
    missing = [n for n in specs if n not in columns and n not in latent]
    if missing:
        raise CausalError(
            f"data is missing node(s) {missing}; pass them, or declare unobserved nodes with latent=[...]"
        )
    out, rows = {}, None
    for name, spec in specs.items():
        if name in latent:
            continue
        t = _check_column(name, _tensor(name, columns[name]), spec, dtype)
        if rows is None:
            rows, first = t.shape[0], name
        elif t.shape[0] != rows:
            raise CausalError(f"column {name!r} has {t.shape[0]} rows but column {first!r} has {rows}")
        out[name] = t
    if not rows:
        raise CausalError("data has no rows")
    return out, rows
