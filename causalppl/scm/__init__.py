"""Neural structural causal models built from a graph: declare, fit, query, save.

Example:
    >>> import causalppl as cp
    >>> from causalppl.scm import NeuralSCM
    >>> scm = NeuralSCM({"x": [], "y": ["x"]}, mechanism="flow", hidden=(8,))
    >>> cp.sample(scm, 4, seed=0).y.shape
    (4,)
"""

from .io import load
from .neural_scm import NeuralSCM

__all__ = ["NeuralSCM", "load"]
