"""Categorical nodes: logits from an MLP; counterfactuals go through Gumbel-max."""

from __future__ import annotations

import pyro.distributions as dist

from ..errors import CausalError
from .base import Mechanism
from .heads import CATEGORICAL

__all__ = ["CategoricalMechanism"]


class CategoricalMechanism(Mechanism):
    """``x = argmax_k(logits_k(pa) + G_k)``, ``G_k ~ Gumbel(0, 1)``: a ``Categorical`` site.

    :func:`causalppl.noise.noise_model` reads the Gumbel-max noise out of the returned
    ``Categorical``; abduction draws the exact posterior of the Gumbels given the observed
    category (Oberst & Sontag 2019).

    Args:
        in_features: parent values read.
        categories: number of categories ``K`` (values ``0..K-1``).

    Example:
        >>> import torch
        >>> mech = CategoricalMechanism(2, categories=3, hidden=(8,))
        >>> mech(torch.zeros(5, 2)).logits.shape
        torch.Size([5, 3])
    """

    kind = CATEGORICAL

    def __init__(self, in_features: int, *, categories: int, dim=None, **kwargs):
        if not isinstance(categories, int) or categories < 2:
            raise CausalError(f"a categorical mechanism needs categories >= 2, got {categories!r}")
        if dim is not None:
            raise CausalError("categorical nodes are scalar (one category per unit); dim must be None")
        self.categories = categories
        super().__init__(in_features, **kwargs)

    @property
    def width(self) -> int:
        return self.categories

    def distribution(self, raw, loc=0.0, scale=1.0):
        return dist.Categorical(logits=raw)
