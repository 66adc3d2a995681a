"""Causal generative models over images, written from :mod:`causalppl.nn` blocks.

Each model is an ordinary one-unit Pyro program with an amortised guide: what a user would
write for their own data, and read by every causalppl query like any other program.

* :class:`DeepSCM`: Pawlowski, Castro & Glocker's (2020) Deep SCM in its three variants
  (``"independent"``, ``"conditional"``, ``"full"``), for
  :func:`causalppl.datasets.morpho_digits`, :func:`causalppl.datasets.pendulum` or any data
  set declared as an :class:`ImageData` of :class:`Attribute`\\ s.

Example:
    >>> import causalppl as cp
    >>> from causalppl import models
    >>> scm = models.DeepSCM("conditional", latent_dim=4, network="mlp", hidden=(32,))
    >>> cp.graph(scm).parents("image")
    ['digit', 'thickness', 'intensity', 'z']
"""

from .attributes import Attribute, ImageData
from .deep_scm import DeepSCM

__all__ = ["Attribute", "DeepSCM", "ImageData"]
