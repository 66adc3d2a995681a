"""``do``: hard and functional interventions on named sites."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.poutine.runtime import get_plates

from ..errors import CausalError
from ._factory import SiteCheckingMessenger, make_handler
from .deterministic import fix_deterministic_event_dim
from .intervention import apply_action, check_actions, is_shift

__all__ = ["DoMessenger", "do", "natural_shape"]


class DoMessenger(SiteCheckingMessenger):
    """Intervene on sites: ``do(x = v)`` or, with a callable, ``x := f(natural x)``.

    A constant (float or tensor) is a hard intervention: the site takes that value and its
    parents no longer matter, so :func:`causalppl.graph` shows the mutilated graph. A
    callable is a functional (shift) intervention on the value the mechanism would have
    produced: the natural value is drawn at the site's full batch shape (every enclosing
    plate, inner or outer), so each unit and sample gets its own draw. The intervened site
    contributes no log-density (it is not an observation). Unlike ``pyro.poutine.do`` the
    site keeps its name; a name the program never samples, a value outside the site's
    support, or an intervention on an observed site raises :class:`causalppl.CausalError`.
    Nested interventions on one site compose: the outer one acts on the value the inner one
    gave (so a repeated intervention is idempotent).

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
        >>> with pyro.plate("unit", 1000):
        ...     x = cp.do(model, {"x": lambda x: 2 * x})()  # a fresh natural draw per unit
        >>> bool(x.std() > 1.0)
        True
        >>> cp.do(model, {"z": 1.0})()
        Traceback (most recent call last):
        ...
        causalppl.errors.UnknownSiteError: intervention 'z' is never sampled ...; the sites that exist are: 'x', 'y'
    """

    _role = "intervention"

    def __init__(self, actions):
        actions = check_actions(actions, "actions")
        super().__init__(actions)
        self.actions = actions

    def _pyro_sample(self, msg):
        if not self._note(msg):
            return
        name, fn, action = msg["name"], msg["fn"], self.actions[msg["name"]]
        inner = msg["infer"].get("do")
        if inner:  # an inner do set the site already: this one acts on the value it gave
            fn = msg["infer"]["do_law"]
        if msg["infer"].get("_deterministic"):
            fix_deterministic_event_dim(msg, get_plates())  # plates outside have not shaped it yet
            fn = msg["fn"] if not inner else fn
        deterministic = bool(msg["infer"].get("_deterministic")) or bool(inner)
        if msg["is_observed"] and not deterministic:
            raise CausalError(
                f"site {name!r} is observed (cp.condition or obs=); intervening on it in the same world would "
                "discard the observation: use cp.counterfactual for an intervention on an observed unit"
            )
        if is_shift(action):
            natural = msg["value"] if deterministic else _draw(fn.expand(natural_shape(fn)))
            value = apply_action(action, natural, fn, name)
        else:
            value = apply_action(action, None, fn, name)
        msg["value"] = value
        msg["fn"] = dist.Delta(value, event_dim=len(fn.event_shape)).mask(False)
        msg["is_observed"] = True
        # What a world handler outside needs to redo the intervention with shared noise.
        kinds = [msg["infer"].get("do"), "shift" if is_shift(action) else "hard"]
        msg["infer"] = {
            **msg["infer"],
            "do": "hard" if "hard" in kinds else "shift",
            "do_law": fn,
            "do_actions": (*msg["infer"].get("do_actions", ()), action),
        }


def natural_shape(fn) -> torch.Size:
    """``fn``'s batch shape broadcast with every enclosing plate, also the ones outside this
    handler (they have not broadcast the site yet when an inner handler sees it)."""
    shape = list(fn.batch_shape)
    for frame in get_plates():
        if not frame.vectorized or frame.dim is None:
            continue
        if len(shape) < -frame.dim:
            shape = [1] * (-frame.dim - len(shape)) + shape
        if shape[frame.dim] == 1:
            shape[frame.dim] = frame.size
    return torch.Size(shape)


def _draw(fn):
    return fn.rsample() if fn.has_rsample else fn.sample()


do = make_handler(DoMessenger)
