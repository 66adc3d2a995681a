"""``do``: hard and functional interventions on named sites."""

from __future__ import annotations

from collections.abc import Mapping

import pyro.distributions as dist
import torch

from ..errors import CausalError
from ._factory import SiteCheckingMessenger, make_handler
from .condition import site_dtype

__all__ = ["DoMessenger", "do", "as_value"]


class DoMessenger(SiteCheckingMessenger):
    """Intervene on sites: ``do(x = v)`` or, with a callable, ``x := f(natural x)``.

    A constant (float or tensor) is a hard intervention: the site takes that value and its
    parents no longer matter, so :func:`causalppl.graph` shows the mutilated graph. A
    callable is a functional (shift) intervention on the value the mechanism would have
    produced. The intervened site contributes no log-density (it is not an observation).
    Unlike ``pyro.poutine.do`` the site keeps its name, and a name the program never
    samples raises :class:`causalppl.CausalError`.

    Args:
        actions: ``{site: value or callable}``.

    Example:
        >>> import pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(2 * x, 0.1))
        >>> with cp.do(actions={"x": 1.0}):
        ...     y = model()
        >>> float(y) > 1.0
        True
        >>> cp.do(model, {"z": 1.0})()
        Traceback (most recent call last):
        ...
        causalppl.errors.UnknownSiteError: intervention 'z' is never sampled ...; the sites that exist are: 'x', 'y'
    """

    _role = "intervention"

    def __init__(self, actions: Mapping[str, object]):
        if not isinstance(actions, Mapping):
            raise CausalError(f"actions must be a dict site -> value or callable, got {type(actions).__name__}")
        super().__init__(actions)
        self.actions = dict(actions)

    def _pyro_sample(self, msg):
        if not self._note(msg):
            return
        fn, action = msg["fn"], self.actions[msg["name"]]
        if callable(action):
            natural = msg["value"] if msg["value"] is not None else _draw(fn)
            value = as_value(action(natural), fn, msg["name"])
            kind = "shift"
        else:
            value = as_value(action, fn, msg["name"])
            kind = "hard"
        msg["value"] = value
        msg["fn"] = dist.Delta(value, event_dim=len(fn.event_shape)).mask(False)
        msg["is_observed"] = True
        msg["infer"] = {**msg["infer"], "do": kind}


def _draw(fn):
    return fn.rsample() if fn.has_rsample else fn.sample()


def as_value(value, fn, name: str) -> torch.Tensor:
    """``value`` as a tensor of the site's dtype whose trailing dims fit its event shape."""
    dtype = site_dtype(fn)
    try:
        value = torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CausalError(f"value for site {name!r} is not a number or tensor: {value!r}") from e
    ev = fn.event_shape
    if len(ev) and tuple(value.shape[value.dim() - len(ev):]) != tuple(ev):
        raise CausalError(f"value for site {name!r} has shape {tuple(value.shape)}; its event shape is {tuple(ev)}")
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise CausalError(f"value for site {name!r} contains NaN or inf")
    return value


do = make_handler(DoMessenger)
