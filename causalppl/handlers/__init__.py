"""Effect handlers: do, condition, twin and paired worlds. Each composes with ``pyro.poutine``.

Example:
    >>> import pyro, pyro.distributions as dist
    >>> import causalppl as cp
    >>> def model():
    ...     return pyro.sample("x", dist.Normal(0.0, 1.0))
    >>> float(cp.do(model, {"x": 2.0})())
    2.0
"""

from .condition import ConditionMessenger, condition
from .deterministic import DeterministicShapeMessenger
from .do import DoMessenger, do
from .intervention import apply_action
from .twin_world import PairedWorldsMessenger, TwinWorldMessenger, twin_world
from .values import site_value
from .worlds import WorldsMessenger

__all__ = [
    "ConditionMessenger",
    "DeterministicShapeMessenger",
    "DoMessenger",
    "PairedWorldsMessenger",
    "TwinWorldMessenger",
    "WorldsMessenger",
    "apply_action",
    "condition",
    "do",
    "site_value",
    "twin_world",
]
