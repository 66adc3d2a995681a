"""``condition``: observe sites, with the site names and values checked."""

from __future__ import annotations

from ..errors import CausalError, EvidenceError
from ._factory import SiteCheckingMessenger, make_handler
from .intervention import check_actions
from .values import describe_support, outside_support, site_value

__all__ = ["ConditionMessenger", "condition"]


class ConditionMessenger(SiteCheckingMessenger):
    """Observe sites at given values (``pyro.poutine.condition`` with loud errors).

    A name the program never samples, a value whose trailing dims do not match the site's
    event shape, a value with NaN/inf, a value outside the site's support (where the parents
    fix it), or a site that an intervention already set, raise
    :class:`causalppl.CausalError` naming the site.

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
        >>> cp.condition(cp.do(model, {"x": 2.0}), {"x": 1.0})()
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: site 'x' is set by an intervention; it cannot also be observed ...
    """

    _role = "evidence"

    def __init__(self, data):
        data = check_actions(data, "data")
        super().__init__(data)
        self.data = data

    def _pyro_sample(self, msg):
        if not self._note(msg):
            return
        name, fn = msg["name"], msg["fn"]
        if msg["infer"].get("do"):
            raise CausalError(
                f"site {name!r} is set by an intervention; it cannot also be observed in the same "
                "world (cp.counterfactual observes and intervenes in separate worlds)"
            )
        value = site_value(self.data[name], fn, name, "evidence")
        bad = outside_support(value, fn)
        if bad is not None and bool(bad.all()):  # no unit could have produced it, whatever else is drawn
            raise EvidenceError(
                f"evidence for site {name!r} is outside the support {describe_support(fn.support)} of its law "
                "for every unit"
            )
        msg["value"] = value
        msg["is_observed"] = True


condition = make_handler(ConditionMessenger)
