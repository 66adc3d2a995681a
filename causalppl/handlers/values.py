"""The one check of a value against a site: evidence and interventions both pass through it.

:func:`site_value` runs where a value meets a site (``cp.condition``, ``cp.do``, the
world handlers, the queries' entry points, the batched paths): a number or tensor, no
NaN/inf, integral for a discrete law, trailing dims equal to the event shape, broadcastable
with the site, and inside the law's support whenever that support does not depend on the
parents (``LogNormal`` > 0, a Categorical's categories, a Bernoulli's {0, 1}). A support
that does depend on the parents (``Uniform(x, x + 1)``) is checked per unit where the
parents are known, by :func:`outside_support`.

Example:
    >>> import torch, pyro.distributions as dist
    >>> site_value(2.0, dist.LogNormal(0.0, 1.0), "w", "evidence")
    tensor(2.)
    >>> site_value(-1.0, dist.LogNormal(0.0, 1.0), "w", "evidence")
    Traceback (most recent call last):
    ...
    causalppl.errors.EvidenceError: evidence for site 'w' is outside the support ... of its LogNormal law: -1
    >>> site_value(1.5, dist.Categorical(logits=torch.zeros(3)), "c", "evidence")
    Traceback (most recent call last):
    ...
    causalppl.errors.EvidenceError: evidence for site 'c' must be a whole number (a category ...), got 1.5
"""

from __future__ import annotations

import math

import torch
from torch.distributions import constraints

from ..errors import CausalError, EvidenceError

__all__ = ["describe_support", "is_static", "outside_support", "site_dtype", "site_value"]

_ERRORS = {"evidence": EvidenceError}


def site_value(value, fn, name: str, role: str = "evidence") -> torch.Tensor:
    """``value`` checked against the site ``name`` whose law is ``fn``, in the site's dtype.

    Args:
        value: a number, nested list or tensor: one unit, or a batch broadcastable with
            the site's batch shape.
        fn: the site's distribution (its support, event shape and dtype are read).
        name: the site's name, for messages.
        role: ``"evidence"`` or ``"intervention"`` (also names the argument in messages).

    Raises:
        EvidenceError: (evidence) or CausalError (interventions) naming the site.
    """
    error = _ERRORS.get(role, CausalError)
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        value = torch.as_tensor(value, dtype=torch.get_default_dtype())
    try:
        value = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise error(f"{role} for site {name!r} is not a number or tensor: {value!r}") from e
    if value.is_complex() or not (value.is_floating_point() or _is_integer(value)):
        raise error(f"{role} for site {name!r} must hold real numbers, got dtype {value.dtype}")
    # A finite sum means every entry is finite (one reduction instead of a mask and a reduction).
    if value.is_floating_point() and not math.isfinite(value.detach().sum()) and not torch.isfinite(value).all():
        raise error(f"{role} for site {name!r} contains NaN or inf")
    support = fn.support
    if support.is_discrete and value.is_floating_point() and not torch.equal(value, value.round()):
        raise error(
            f"{role} for site {name!r} must be a whole number (a category of its discrete law), got {_show(value)}"
        )
    ev = tuple(fn.event_shape)
    if value.dim() < len(ev) or tuple(value.shape[value.dim() - len(ev) :]) != ev:
        raise error(
            f"{role} for site {name!r} has shape {tuple(value.shape)}, whose trailing dims do not "
            f"match the site's event shape {ev}"
        )
    full = tuple(fn.batch_shape) + ev
    for x, y in zip(reversed(value.shape), reversed(full)):
        if x != y and x != 1 and y != 1:
            raise error(
                f"{role} for site {name!r} has shape {tuple(value.shape)}, which does not broadcast "
                f"with the site's shape {full}"
            )
    value = value.to(site_dtype(fn))
    if is_static(support) and support is not constraints.real and not bool(support.check(value).all()):
        raise error(
            f"{role} for site {name!r} is outside the support {support} of its {_law(fn)} law: "
            f"{_show(value[~_broadcast_check(support, value)])}"
        )
    return value


def outside_support(value: torch.Tensor, fn) -> torch.Tensor | None:
    """Where ``value`` lies outside ``fn``'s support (a bool tensor over batch dims), or
    ``None`` when the support is fixed (already checked by :func:`site_value`)."""
    support = fn.support
    if is_static(support):
        return None
    return ~support.check(value)


def is_static(support) -> bool:
    """Whether a support constraint is the same for every unit (holds no parameter tensor)."""
    for v in vars(support).values():
        if isinstance(v, torch.Tensor):
            return False
        if isinstance(v, constraints.Constraint) and not is_static(v):
            return False
    return True


def site_dtype(fn) -> torch.dtype:
    """The dtype of values a site's distribution produces (wrappers such as ``Independent``
    or a mask are looked through to the law that holds the parameters)."""
    if fn.has_rsample or not fn.support.is_discrete:
        law = fn
        while law is not None:
            for v in vars(law).values():
                if isinstance(v, torch.Tensor) and v.is_floating_point():
                    return v.dtype
            law = getattr(law, "base_dist", None)
        return torch.get_default_dtype()
    return fn.sample().dtype


def describe_support(support) -> str:
    """A support in words short enough for a message (parameter tensors are not printed)."""
    return repr(support) if is_static(support) else f"{type(support).__name__.lstrip('_')} (set by the parents)"


def _broadcast_check(support, value: torch.Tensor) -> torch.Tensor:
    ok = support.check(value)
    return ok.expand(value.shape[: ok.dim()]) if ok.dim() <= value.dim() else ok


def _is_integer(t: torch.Tensor) -> bool:
    return t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _law(fn) -> str:
    inner = fn
    while hasattr(inner, "base_dist") and type(inner).__name__ in (
        "MaskedDistribution",
        "ExpandedDistribution",
        "Independent",
    ):
        inner = inner.base_dist
    return type(inner).__name__


def _show(t: torch.Tensor) -> str:
    flat = t.reshape(-1)
    shown = ", ".join(f"{float(x):g}" for x in flat[:3])
    return shown if flat.numel() <= 3 else f"{shown}, ... ({flat.numel()} values)"
