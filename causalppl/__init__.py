"""causalppl: causal probabilistic programming on Pyro.

Example:
    >>> import pyro, pyro.distributions as dist
    >>> import causalppl as cp
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     return pyro.sample("y", dist.Normal(x, 1.0))
    >>> cp.graph(model).edges
    [('x', 'y')]
"""

from . import datasets, errors, handlers, identify, metrics, models, nn, noise, queries  # noqa: F401
from .errors import CausalError, CausalWarning
from .graph import CausalGraph
from .handlers import condition, do, twin_world
from .inference import fit
from .program import graph
from .queries import counterfactual, effect, sample
from .scm import NeuralSCM, load

__version__ = "0.1.0"

__all__ = [
    "CausalError",
    "CausalGraph",
    "CausalWarning",
    "condition",
    "counterfactual",
    "datasets",
    "do",
    "effect",
    "fit",
    "graph",
    "identify",
    "load",
    "metrics",
    "models",
    "NeuralSCM",
    "nn",
    "sample",
    "twin_world",
]
