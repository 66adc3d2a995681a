"""Applying an intervention: the one place that turns an action into a site's new value.

An action is a constant (a hard intervention: the value, whatever the parents) or a
callable of the site's natural value (a functional or shift intervention). Every handler
and every batched path applies actions through :func:`apply_action`, so the checks are the
same everywhere: the target is a number or tensor of the site's event shape, finite, and
inside the site's support wherever that support is fixed (a category that exists, a
positive value for a positive law).

Example:
    >>> import torch, pyro.distributions as dist
    >>> apply_action(lambda x: x + 1.0, torch.tensor([0.5, 1.5]), dist.Normal(0.0, 1.0), "h")
    tensor([1.5000, 2.5000])
    >>> apply_action(7, torch.tensor(0), dist.Categorical(logits=torch.zeros(3)), "c")
    Traceback (most recent call last):
    ...
    causalppl.errors.CausalError: intervention for site 'c' is outside the support ... of its Categorical law: 7
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import CausalError
from .values import site_value

__all__ = ["apply_action", "check_actions", "is_shift"]


def is_shift(action) -> bool:
    """Whether ``action`` is functional (a callable of the natural value) rather than hard."""
    return callable(action)


def apply_action(action, natural: torch.Tensor | None, fn, name: str) -> torch.Tensor:
    """The value site ``name`` takes under ``action``.

    Args:
        action: a constant (number or tensor) or a callable of the natural value.
        natural: the value the site's mechanism gives (only read by callables).
        fn: the site's law (support, event shape and dtype).
        name: the site's name, for messages.

    Returns:
        The checked value in the site's dtype; a callable's result keeps ``natural``'s shape.
    """
    if is_shift(action):
        if natural is None:
            raise CausalError(f"intervention on site {name!r} is a callable but the site has no natural value here")
        try:
            target = action(natural)
        except Exception as e:  # noqa: BLE001 - a user's callable: say whose it is
            raise CausalError(
                f"the intervention callable for site {name!r} failed on its natural value "
                f"(shape {tuple(natural.shape)}): {type(e).__name__}: {e}"
            ) from e
        value = site_value(target, fn, name, role="intervention")
        if value.shape != natural.shape:
            value = value.expand(torch.broadcast_shapes(value.shape, natural.shape))
        return value
    return site_value(action, fn, name, role="intervention")


def check_actions(actions, role: str = "do") -> dict:
    """``actions`` as a dict ``{site: constant or callable}``; names the argument when it is not one."""
    if actions is None:
        return {}
    if not isinstance(actions, Mapping):
        raise CausalError(
            f"{role} must be a dict site -> value or callable (e.g. {{'x': 1.0}}), got {type(actions).__name__}: "
            f"{actions!r}"
        )
    for k in actions:
        if not isinstance(k, str):
            raise CausalError(f"{role} must be keyed by site names (strings), got the key {k!r}")
    return dict(actions)
