"""Identifiability metrics: how well a fit recovers true latents or a true graph.

"MCC" is the mean correlation coefficient of identifiability research, not Matthews
correlation. See :func:`mcc`.
"""

from .correlation import amari_index, correlation_matrix, matched_correlations, mcc, r2, weak_mcc
from .disentanglement import DCI, dci, mig, sap
from .equivalence import PDAG, as_pdag, cpdag, markov_equivalence_class, v_structures
from .graphs import shd, shd_cpdag

__all__ = [
    "DCI",
    "PDAG",
    "amari_index",
    "as_pdag",
    "correlation_matrix",
    "cpdag",
    "dci",
    "markov_equivalence_class",
    "matched_correlations",
    "mcc",
    "mig",
    "r2",
    "sap",
    "shd",
    "shd_cpdag",
    "v_structures",
    "weak_mcc",
]
