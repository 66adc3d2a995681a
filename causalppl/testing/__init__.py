"""Testing support: hypothesis strategies, profiles, and identifiability assertions."""

from . import strategies
from .assertions import assert_identifiable, assert_invariant, orthogonal_group
from .profiles import load_profile, register_profiles

__all__ = [
    "assert_identifiable",
    "assert_invariant",
    "load_profile",
    "orthogonal_group",
    "register_profiles",
    "strategies",
]
