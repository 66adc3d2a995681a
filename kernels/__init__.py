"""Triton kernels with plain-torch reference paths (installed as ``causalppl.kernels``).

* :func:`mechanism_forward`: every node's location, scale, exogenous noise and the rows'
  Gaussian log-density for stacked per-node MLPs (one fused kernel, backward by recompute).
* :func:`mechanism_sample`: ancestral sampling / counterfactual prediction in topological
  order, with interventions (one launch for the whole DAG, or one per level).
* :func:`decoder_forward`: an MLP decoder, bias and activation fused into each layer's GEMM.

:func:`backend` says which implementation runs (``CAUSALPPL_KERNELS``); :func:`use_backend`
switches it for a block. Layouts, variables and numerics: ``kernels/README.md``.

Example:
    >>> import torch
    >>> from causalppl.kernels import decoder_forward, use_backend
    >>> w, b = [torch.ones(2, 3)], [torch.zeros(3)]
    >>> with use_backend("torch"):
    ...     decoder_forward(torch.tensor([[1.0, 2.0]]), w, b, "relu").tolist()
    [[3.0, 3.0, 3.0]]
"""

from ._backend import backend, precision, use_backend
from ._checks import ACTIVATIONS
from .decoder import decoder_forward
from .mechanism import (
    kernel_supports,
    mechanism_forward,
    mechanism_sample,
    scale_transform,
    topological_levels,
)

__all__ = [
    "ACTIVATIONS",
    "backend",
    "decoder_forward",
    "kernel_supports",
    "mechanism_forward",
    "mechanism_sample",
    "precision",
    "scale_transform",
    "topological_levels",
    "use_backend",
]
