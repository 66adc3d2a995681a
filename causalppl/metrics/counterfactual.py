"""Counterfactual-image metrics: effectiveness, null intervention, reversibility, true error.

Conventions (one for all of them):

* A **data dict** has the layout of a rendered dataset: ``{"image": [n, ...], variable:
  [n], ...}``, tensors or arrays, rows paired across keys (one unit per row).
* A **counterfactual function** is ``counterfactual_fn(evidence, do) -> dict``: given a data
  dict of ``n`` units and interventions ``do`` (``{variable: value}``, a value being a number
  or ``[n]`` per-unit values), it returns the counterfactual data dict of the same ``n``
  units (at least ``"image"``; returned variables replace the evidence's when chained).
  A fitted model, or a dataset's true counterfactual
  (``lambda ev, do: ds.counterfactual(do)``), fits this.
* **Image distance** is L1: the mean absolute pixel difference of a unit's image (over all
  its pixels), averaged over units; pixel values in their own scale (``[0, 1]`` for the
  rendered datasets). Results are Python floats.

Following Monteiro et al. (2023, "Measuring axiomatic soundness of counterfactual image
models") these check soundness without ground truth; :func:`true_counterfactual_error` uses
the ground truth that rendered datasets give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch

from .. import checks
from ..errors import CausalError

__all__ = ["effectiveness", "null_intervention", "reversibility", "true_counterfactual_error"]

CounterfactualFn = Callable[[dict, dict], Mapping]


def effectiveness(measured: Mapping, target: Mapping, scale: Mapping | None = None) -> dict[str, float]:
    """Mean absolute error between attributes read off counterfactual images and their targets.

    Effectiveness asks whether the intervention took: the attributes of the counterfactual
    images, read back by a measurement (:func:`causalppl.datasets.measure`) or a trained
    pseudo-oracle, against the intervened (target) values.

    Args:
        measured: ``{attribute: [n]}`` read from the counterfactual images.
        target: ``{attribute: [n] or number}``: the values intervened on (every key must
            be in ``measured``); only these attributes are scored.
        scale: optional ``{attribute: positive number}`` (e.g. the data's sd) dividing each
            error, for errors comparable across attributes.

    Returns:
        ``{attribute: mean absolute error}`` (in units of ``scale`` where given).

    Raises:
        CausalError: a target attribute missing from ``measured``, mismatched lengths,
            NaN or inf anywhere (drop units a measurement failed on first), a bad ``scale``.

    Example:
        >>> effectiveness({"thickness": [2.5, 3.25], "intensity": [0.5, 0.6]}, {"thickness": 3.0})
        {'thickness': 0.375}
        >>> effectiveness({"t": [1.0, 3.0]}, {"t": [2.0, 2.0]}, scale={"t": 0.5})
        {'t': 2.0}
    """
    measured = checks.mapping(measured, "measured", keys="attribute name")
    target = checks.mapping(target, "target", keys="attribute name")
    scale = checks.mapping(scale, "scale", keys="attribute name")
    if not target:
        raise CausalError("target must name at least one attribute")
    out = {}
    for name, value in target.items():
        if name not in measured:
            raise CausalError(f"target names {name!r}, which measured lacks; measured has {sorted(measured)}")
        m = _vector(measured[name], f"measured[{name!r}]")
        t = _vector(value, f"target[{name!r}]", n=len(m))
        s = checks.positive_number(scale[name], f"scale[{name!r}]") if name in scale else 1.0
        out[name] = float(np.mean(np.abs(m - t)) / s)
    extra = set(scale) - set(target)
    if extra:
        raise CausalError(f"scale names {sorted(extra)}, which target does not; target has {sorted(target)}")
    return out


def null_intervention(
    counterfactual_fn: CounterfactualFn,
    data: Mapping,
    steps: Iterable[int] = (1, 10),
    variables: Iterable[str] | None = None,
) -> dict[int, float]:
    """Image drift under repeated null interventions (each variable set to its own value).

    Monteiro et al. (2023) call this axiom "composition"; it is unrelated to the
    composition of interventions of Markham et al., hence the name here. A sound model
    maps a unit to itself under ``do(x = x)``; applied ``k`` times (each output becomes the
    next evidence) a model that reconstructs imperfectly drifts away.

    Args:
        counterfactual_fn: ``(evidence, do) -> dict`` (see the module docstring).
        data: the factual data dict.
        steps: after how many applications to report the distance (positive ints).
        variables: the variables set to their current values (default: every key of
            ``data`` but ``"image"``).

    Returns:
        ``{k: mean L1 image distance to data["image"] after k applications}``.

    Example:
        >>> import torch
        >>> data = {"image": torch.zeros(2, 1, 2, 2), "x": torch.tensor([0.0, 1.0])}
        >>> blur = lambda ev, do: {**ev, "image": ev["image"] + 0.1}   # drifts 0.1 a step
        >>> {k: round(v, 6) for k, v in null_intervention(blur, data, steps=(1, 3)).items()}
        {1: 0.1, 3: 0.3}
    """
    checks.model(counterfactual_fn, "counterfactual_fn")
    data = _data(data, "data")
    names = _variables(data, variables)
    wanted = sorted({checks.positive_int(k, "steps") for k in _iterable(steps, "steps")})
    if not wanted:
        raise CausalError("steps must hold at least one positive int")
    evidence, out = dict(data), {}
    for k in range(1, wanted[-1] + 1):
        result = _call(counterfactual_fn, evidence, {v: evidence[v] for v in names}, data, f"step {k}")
        evidence = {**evidence, **result}
        if k in wanted:
            out[k] = _l1(evidence["image"], data["image"])
    return out


def reversibility(counterfactual_fn: CounterfactualFn, data: Mapping, do: Mapping) -> float:
    """Mean L1 distance to the factual image after intervening and then intervening back.

    The counterfactual of the counterfactual under ``do(x = factual x)`` should be the
    factual unit (Monteiro et al. 2023).

    Args:
        counterfactual_fn: ``(evidence, do) -> dict`` (see the module docstring).
        data: the factual data dict.
        do: the first intervention; its keys must be variables of ``data``.

    Example:
        >>> import torch
        >>> data = {"image": torch.zeros(2, 1, 2, 2), "x": torch.zeros(2)}
        >>> def shift(ev, do):   # image = x exactly: perfectly reversible
        ...     x = torch.as_tensor(do["x"]).expand(2)
        ...     return {"image": x[:, None, None, None].expand(2, 1, 2, 2), "x": x}
        >>> reversibility(shift, data, {"x": 1.0})
        0.0
    """
    checks.model(counterfactual_fn, "counterfactual_fn")
    data = _data(data, "data")
    do = checks.mapping(do, "do", keys="variable name")
    if not do:
        raise CausalError("do must name at least one variable")
    missing = [v for v in do if v not in data or v == "image"]
    if missing:
        raise CausalError(f"do names {missing}, which are not variables of data; it has {_names(data)}")
    first = _call(counterfactual_fn, data, do, data, "the intervention")
    back = _call(counterfactual_fn, {**data, **first}, {v: data[v] for v in do}, data, "the reverse intervention")
    return _l1(back["image"], data["image"])


def true_counterfactual_error(predicted_images, true_images) -> dict[str, object]:
    """L1 and RMSE of predicted counterfactual images against the true counterfactuals.

    Args:
        predicted_images: ``[n, ...]`` images from a model.
        true_images: ``[n, ...]`` the true counterfactual images (rendered datasets have them).

    Returns:
        ``{"l1": float, "rmse": float, "l1_per_unit": [n], "rmse_per_unit": [n]}`` (per-unit
        values as float64 arrays; the overall values are their means).

    Example:
        >>> import numpy as np
        >>> err = true_counterfactual_error(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 0.5], [1.0, 1.0]]))
        >>> err["l1"], err["l1_per_unit"].tolist(), round(err["rmse"], 4)
        (0.125, [0.25, 0.0], 0.1768)
    """
    pred = _images(predicted_images, "predicted_images")
    true = _images(true_images, "true_images")
    if pred.shape != true.shape:
        raise CausalError(f"predicted_images has shape {pred.shape} but true_images has {true.shape}")
    diff = (pred - true).reshape(len(pred), -1)
    l1, rmse = np.abs(diff).mean(1), np.sqrt((diff**2).mean(1))
    return {"l1": float(l1.mean()), "rmse": float(rmse.mean()), "l1_per_unit": l1, "rmse_per_unit": rmse}


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CausalError(f"{name} must be numeric, got {type(value).__name__}") from exc
    if not np.all(np.isfinite(arr)):
        raise CausalError(f"{name} contains NaN or inf")
    return arr


def _vector(value, name: str, n: int | None = None) -> np.ndarray:
    arr = _as_array(value, name)
    if n is not None and arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.ndim != 1 or len(arr) < 1 or (n is not None and len(arr) != n):
        want = f"[{n}] or a number" if n is not None else "a non-empty vector [n]"
        raise CausalError(f"{name} must be {want}, got shape {arr.shape}")
    return arr


def _images(value, name: str) -> np.ndarray:
    arr = _as_array(value, name)
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise CausalError(f"{name} must be images [n, ...], got shape {arr.shape}")
    return arr


def _data(data, name: str) -> dict:
    data = checks.mapping(data, name, keys="variable name")
    if "image" not in data:
        raise CausalError(f"{name} must hold an 'image' entry, got keys {sorted(data)}")
    _images(data["image"], f"{name}['image']")
    return data


def _variables(data: dict, variables) -> list[str]:
    names = [k for k in data if k != "image"] if variables is None else list(_iterable(variables, "variables"))
    missing = [v for v in names if v not in data or v == "image"]
    if missing:
        raise CausalError(f"variables {missing} are not variables of data; it has {_names(data)}")
    return names


def _names(data: dict) -> list[str]:
    return [k for k in data if k != "image"]


def _iterable(value, name: str):
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise CausalError(f"{name} must be a sequence, got {type(value).__name__}: {value!r}")
    return list(value)


def _call(fn, evidence: dict, do: dict, data: dict, when: str) -> dict:
    result = fn(evidence, do)
    if not isinstance(result, Mapping) or "image" not in result:
        raise CausalError(
            f"counterfactual_fn must return a dict with an 'image' entry ({when}), got {type(result).__name__}"
        )
    shape = np.shape(data["image"])
    got = tuple(result["image"].shape) if hasattr(result["image"], "shape") else np.shape(result["image"])
    if tuple(got) != tuple(shape):
        raise CausalError(f"counterfactual_fn returned images of shape {tuple(got)} ({when}); data has {tuple(shape)}")
    return dict(result)


def _l1(a, b) -> float:
    a, b = _images(a, "counterfactual image"), _images(b, "data['image']")
    return float(np.abs(a - b).reshape(len(a), -1).mean(1).mean())
