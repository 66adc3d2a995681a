"""``condition``: observe sites, with the site names and values checked."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..errors import CausalError, EvidenceError
from ._factory import SiteCheckingMessenger, make_handler

__all__ = ["ConditionMessenger", "condition", "check_evidence_value", "site_dtype"]


class ConditionMessenger(SiteCheckingMessenger):
    """Observe sites at given values (``pyro.poutine.condition`` with loud errors).

    A name the program never samples, a value whose trailing dims do not match the site's
    event shape, or a value with NaN/inf raise :class:`causalppl.CausalError` naming the
    site.

    Args:
        data: ``{site: observed value}``.

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(x, 1.0))
        >>> tr = pyro.poutine.trace(cp.condition(model, {"x": torch.tensor(0.5)})).get_trace()
        >>> float(tr.nodes["x"]["value"]), tr.nodes["x"]["is_observed"]
        (0.5, True)
    """

    _role = "evidence"

    def __init__(self, data: Mapping[str, object]):
        if not isinstance(data, Mapping):
            raise CausalError(f"data must be a dict site -> value, got {type(data).__name__}")
        super().__init__(data)
        self.data = dict(data)

    def _pyro_sample(self, msg):
        if not self._note(msg):
            return
        msg["value"] = check_evidence_value(self.data[msg["name"]], msg["fn"], msg["name"])
        msg["is_observed"] = True


def check_evidence_value(value, fn, name: str) -> torch.Tensor:
    """Validate an observed value against the site's distribution (event shape, finiteness)."""
    try:
        value = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise EvidenceError(f"evidence for site {name!r} is not a number or tensor") from e
    # A finite sum means every entry is finite (one reduction instead of a mask and a reduction);
    # an overflowing sum falls back to the exact check.
    if value.is_floating_point() and not math.isfinite(value.sum()) and not torch.isfinite(value).all():
        raise EvidenceError(f"evidence for site {name!r} contains NaN or inf")
    ev = tuple(fn.event_shape)
    if value.dim() < len(ev) or tuple(value.shape[value.dim() - len(ev):]) != ev:
        raise EvidenceError(
            f"evidence for site {name!r} has shape {tuple(value.shape)}, whose trailing dims do not "
            f"match the site's event shape {ev}"
        )
    try:
        _broadcastable(value.shape, fn.batch_shape + fn.event_shape)
    except RuntimeError as e:
        raise EvidenceError(
            f"evidence for site {name!r} has shape {tuple(value.shape)}, which does not broadcast "
            f"with the site's shape {tuple(fn.batch_shape + fn.event_shape)}"
        ) from e
    return value.to(site_dtype(fn))


def _broadcastable(a: torch.Size, b: torch.Size) -> None:
    """``torch.broadcast_shapes`` without its overhead on the common case (raises RuntimeError)."""
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast")


def site_dtype(fn) -> torch.dtype:
    """The dtype of values a site's distribution produces."""
    if fn.has_rsample or not fn.support.is_discrete:
        for v in vars(fn).values():
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                return v.dtype
        return torch.get_default_dtype()
    return fn.sample().dtype


condition = make_handler(ConditionMessenger)
