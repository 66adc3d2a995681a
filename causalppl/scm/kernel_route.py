"""Route the stacked fast paths through :mod:`causalppl.kernels` when a kernel backend is on.

Only SCMs whose nodes are all scalar with one kind the fused kernels implement
(additive or location-scale Normal noise) are routed; everything else, and the ``torch``
backend, uses the torch path of :mod:`causalppl.scm.fast` (the reference).
"""

from __future__ import annotations

__all__ = ["backend", "log_prob", "sample"]


def backend() -> str:
    """The kernel backend in use: ``"torch"`` (no routing), ``"triton"`` or ``"interpret"``."""
    return "torch"


def log_prob(scm, X):
    """Summed log density (model units) of the banked nodes, or ``None`` to use torch."""
    return None


def sample(scm, n, do, noise, seed):
    """Ancestral samples through the fused kernel, or ``None`` to use torch."""
    return None
