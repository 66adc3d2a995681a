"""Triton kernels (installed as ``causalppl.kernels``): see ``kernels/README.md``."""

from ._backend import backend, precision, use_backend
from .mechanism import mechanism_forward, mechanism_sample, scale_transform, topological_levels

__all__ = ["backend", "mechanism_forward", "mechanism_sample", "precision", "scale_transform",
           "topological_levels", "use_backend"]
