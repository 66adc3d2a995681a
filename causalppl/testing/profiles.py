"""Hypothesis profiles: ``ci`` (derandomized), ``dev`` (default), ``fuzz`` (long runs).

Select one with the ``HYPOTHESIS_PROFILE`` environment variable.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["register_profiles", "load_profile"]

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def register_profiles() -> None:
    """Register the three profiles with hypothesis."""
    settings.register_profile(
        "ci",
        max_examples=25,
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=_SLOW_OK,
        database=None,
    )
    settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_SLOW_OK)
    settings.register_profile("fuzz", max_examples=2000, deadline=None, suppress_health_check=_SLOW_OK)


def load_profile(default: str = "dev") -> str:
    """Register the profiles and load the one named by ``HYPOTHESIS_PROFILE``."""
    register_profiles()
    name = os.environ.get("HYPOTHESIS_PROFILE", default)
    settings.load_profile(name)
    return name
