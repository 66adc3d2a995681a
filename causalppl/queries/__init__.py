"""Queries that answer causal questions with labeled ``xarray`` results."""

from .counterfactual import counterfactual
from .effect import effect
from .sample import sample

__all__ = ["counterfactual", "effect", "sample"]
