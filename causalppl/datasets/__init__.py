"""Datasets: the bundled Sachs protein-signalling data and procedural SCMs with known truth.

Example:
    >>> from causalppl.datasets import load_sachs, nonlinear_anm
    >>> data, graph = load_sachs()
    >>> truth = nonlinear_anm()
    >>> sorted(truth.sample(3, seed=0))
    ['h', 'x', 'y']
"""

from .sachs import REVERSED_EDGE, load_sachs, sachs_consensus_edges
from .synthetic import KnownSCM, multiplicative_noise, nonlinear_anm, tanh_anm

__all__ = [
    "KnownSCM",
    "REVERSED_EDGE",
    "load_sachs",
    "multiplicative_noise",
    "nonlinear_anm",
    "sachs_consensus_edges",
    "tanh_anm",
]
