"""Effect handlers: do, condition, twin worlds. Each composes with ``pyro.poutine``."""

from .condition import ConditionMessenger, condition
from .deterministic import DeterministicShapeMessenger
from .do import DoMessenger, do
from .twin_world import TwinWorldMessenger, twin_world

__all__ = [
    "ConditionMessenger",
    "DeterministicShapeMessenger", "DoMessenger", "TwinWorldMessenger", "condition", "do", "twin_world"]
