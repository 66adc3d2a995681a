"""Triton kernels (installed as ``causalppl.kernels``): see ``kernels/README.md``."""

from ._backend import backend, precision, use_backend
from ._checks import ACTIVATIONS
from .decoder import decoder_forward
from .mechanism import mechanism_forward, mechanism_sample, scale_transform, topological_levels

__all__ = ["ACTIVATIONS", "backend", "decoder_forward", "mechanism_forward", "mechanism_sample",
           "precision", "scale_transform", "topological_levels", "use_backend"]
