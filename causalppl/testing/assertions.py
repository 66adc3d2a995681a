"""Assertions for identifiability claims, each with a null control measured beside it.

At small dimensions a non-identifiable fit still scores MCC 0.7-0.85, so an absolute
threshold alone passes vacuously: :func:`assert_identifiable` demands that the fit beats
both a floor and a null control (raw observations, a non-identifiable variant of the
model, ...) computed in the same test. :func:`assert_invariant` states a
non-identifiability result: the likelihood does not change along the ambiguity group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import checks
from ..errors import CausalError
from ..linalg import random_orthogonal

__all__ = ["assert_identifiable", "assert_invariant", "orthogonal_group"]


def _value(x, name: str) -> float:
    v = x() if callable(x) else x
    try:
        v = float(v)
    except (TypeError, ValueError) as exc:
        raise CausalError(f"{name} must be a number or a zero-argument callable returning one") from exc
    if v != v:
        raise CausalError(f"{name} is NaN")
    return v


def assert_identifiable(
    fit, null, *, floor: float, margin: float, metric: str = "MCC", higher_is_better: bool = True
) -> tuple[float, float]:
    """Fail unless the fitted score clears ``floor`` AND beats the null control by ``margin``.

    Args:
        fit: the metric of the fitted model against the truth (a number, or a zero-argument
            callable computing it).
        null: the same metric for the null control, measured in the same test.
        floor: absolute threshold the fit must reach.
        margin: how far beyond the null the fit must be.
        metric: the metric's name, for the message.
        higher_is_better: ``False`` for distances (Amari index, SHD): then the fit must be
            ``<= floor`` and ``<= null - margin``.

    Returns:
        ``(fit, null)`` as floats, for reporting.

    Example:
        >>> assert_identifiable(0.97, 0.80, floor=0.95, margin=0.1)
        (0.97, 0.8)
        >>> assert_identifiable(0.97, 0.93, floor=0.95, margin=0.1)
        Traceback (most recent call last):
        ...
        AssertionError: MCC of the fit 0.9700 does not beat the null control 0.9300 by the margin 0.1 ...
    """
    f, n = _value(fit, "fit"), _value(null, "null")
    margin = checks.nonnegative_number(margin, "margin")
    floor = _value(floor, "floor")
    if higher_is_better:
        reach, beat, need = f >= floor, f >= n + margin, f"fit >= {floor} and fit >= null + {margin}"
    else:
        reach, beat, need = f <= floor, f <= n - margin, f"fit <= {floor} and fit <= null - {margin}"
    if not beat:
        raise AssertionError(
            f"{metric} of the fit {f:.4f} does not beat the null control {n:.4f} by the margin {margin} (need {need})"
        )
    if not reach:
        raise AssertionError(
            f"{metric} of the fit {f:.4f} misses the floor {floor} (null control {n:.4f}; need {need})"
        )
    return f, n


def orthogonal_group(dim: int) -> Callable[[torch.Generator], torch.Tensor]:
    """A sampler of Haar-random ``[dim, dim]`` orthogonal matrices for :func:`assert_invariant`.

    Example:
        >>> r = orthogonal_group(3)(torch.Generator().manual_seed(0))
        >>> bool(torch.allclose(r.T @ r, torch.eye(3, dtype=r.dtype)))
        True
    """
    dim = checks.positive_int(dim, "dim")
    return lambda gen: random_orthogonal(dim, gen)


def _flat(params: Any) -> torch.Tensor:
    if isinstance(params, torch.Tensor):
        return params.detach().reshape(-1).double()
    if isinstance(params, dict):
        return torch.cat([_flat(params[k]) for k in sorted(params)]) if params else torch.zeros(0)
    if isinstance(params, (list, tuple)):
        return torch.cat([_flat(p) for p in params]) if params else torch.zeros(0)
    return torch.as_tensor(params, dtype=torch.float64).reshape(-1)


def assert_invariant(
    log_lik_fn: Callable[[Any], Any],
    params: Any,
    group_action: Callable[[Any, Any], Any],
    sample_group: Callable[[torch.Generator], Any],
    *,
    num_draws: int = 5,
    seed: int = 0,
    rtol: float = 1e-10,
    atol: float = 1e-8,
    min_change: float = 1e-3,
) -> float:
    """Fail unless ``log_lik_fn`` is unchanged when the group acts on ``params``.

    For ``num_draws`` group elements ``g = sample_group(generator)`` the check is
    ``|L(action(params, g)) - L(params)| <= atol + rtol |L(params)|``. To keep the test from
    passing vacuously, every draw must also move the parameters by at least
    ``min_change`` (max-abs difference of all their entries).

    Args:
        log_lik_fn: parameters -> log-likelihood (number or 0-dim tensor).
        params: a tensor, or a tuple/list/dict of tensors.
        group_action: ``(params, g) -> params``.
        sample_group: ``torch.Generator -> g`` (e.g. :func:`orthogonal_group`).

    Returns:
        The largest absolute change of the log-likelihood seen.

    Example:
        >>> x = torch.randn(50, 2, dtype=torch.float64)
        >>> def ll(w):  # Gaussian likelihood of x @ w.T: rotation invariant
        ...     return -0.5 * ((x @ w.T) ** 2).sum()
        >>> w = torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64)
        >>> assert_invariant(ll, w, lambda w, r: r @ w, orthogonal_group(2)) < 1e-9
        True
    """
    num_draws = checks.positive_int(num_draws, "num_draws")
    rtol, atol = checks.nonnegative_number(rtol, "rtol"), checks.nonnegative_number(atol, "atol")
    min_change = checks.nonnegative_number(min_change, "min_change")
    gen = torch.Generator().manual_seed(checks.int_at_least(seed, "seed", 0))
    base = float(log_lik_fn(params))
    before = _flat(params)
    worst = 0.0
    for k in range(num_draws):
        g = sample_group(gen)
        moved = group_action(params, g)
        after = _flat(moved)
        change = float((after - before).abs().max()) if after.shape == before.shape else float("inf")
        if change < min_change:
            raise AssertionError(
                f"draw {k}: the group action moved the parameters by only {change:.3g} "
                f"(< min_change {min_change}); the invariance check would be vacuous"
            )
        value = float(log_lik_fn(moved))
        dev = abs(value - base)
        worst = max(worst, dev)
        if dev > atol + rtol * abs(base):
            raise AssertionError(
                f"draw {k}: log-likelihood changed from {base:.10g} to {value:.10g} "
                f"(|diff| {dev:.3g} > atol {atol} + rtol {rtol} * |L|) under the group action"
            )
    return worst
