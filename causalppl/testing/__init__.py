"""Testing support: hypothesis strategies, profiles, and identifiability assertions."""

from .profiles import load_profile, register_profiles

__all__ = ["load_profile", "register_profiles"]
