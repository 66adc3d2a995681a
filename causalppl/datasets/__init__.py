"""Datasets: the bundled Sachs data, procedural SCMs with known truth, and rendered images.

The rendered datasets (:func:`morpho_digits`, :func:`pendulum`) keep every unit's
exogenous noise, so their counterfactual images are true ones, re-rendered.

Example:
    >>> from causalppl.datasets import load_sachs, morpho_digits, nonlinear_anm
    >>> data, graph = load_sachs()
    >>> truth = nonlinear_anm()
    >>> sorted(truth.sample(3, seed=0))
    ['h', 'x', 'y']
    >>> morpho_digits(n=2, seed=0).data["image"].shape
    torch.Size([2, 1, 28, 28])
"""

from .morpho_digits import MorphoDigits, morpho_digits
from .morphometry import measure
from .pendulum import Pendulum, pendulum
from .rendered import RenderedDataset
from .sachs import REVERSED_EDGE, load_sachs, sachs_consensus_edges
from .synthetic import KnownSCM, multiplicative_noise, nonlinear_anm, tanh_anm

__all__ = [
    "KnownSCM",
    "MorphoDigits",
    "Pendulum",
    "REVERSED_EDGE",
    "RenderedDataset",
    "load_sachs",
    "measure",
    "morpho_digits",
    "multiplicative_noise",
    "nonlinear_anm",
    "pendulum",
    "sachs_consensus_edges",
    "tanh_anm",
]
