"""Batched paths: how a model offers the queries a faster way to answer than site by site.

Any model may define a method ``batched_paths()`` returning a :class:`BatchedPaths`; the
public queries (:func:`causalppl.sample`, :func:`causalppl.counterfactual`,
:func:`causalppl.effect`) and :func:`causalppl.fit` then take it by themselves whenever
the question allows (no model arguments; for counterfactuals, every site observed and exact
abduction), and run the Pyro program otherwise. The batched answer must equal the Pyro
program's (a property test per implementation says so); a path may decline a question it
does not cover by returning ``None``. :class:`causalppl.NeuralSCM` is one implementation;
nothing in the queries knows it.

Example:
    >>> import causalppl as cp
    >>> scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
    >>> paths = batched_paths(scm)
    >>> paths.names, paths.parents("y")
    (['x', 'y'], ['x'])
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import torch

__all__ = ["BatchedPaths", "Answer", "batched_paths"]

Answer = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]
"""``(values, improbable)``: each site's values ``[n, *event]``, and for each intervened site a
bool ``[n]`` marking where the intervened value is improbable under the site's own law
(:func:`causalppl.noise.typicality.improbable`)."""


class BatchedPaths(abc.ABC):
    """The questions a model can answer in batched form. Values are ``{site: [n, *event]}``.

    Attributes:
        deterministic_abduction: abduction from full evidence gives one answer per unit (no
            discrete site whose noise is a posterior draw), so one counterfactual serves
            every sample of a query.
    """

    deterministic_abduction = False

    @property
    @abc.abstractmethod
    def names(self) -> list[str]:
        """The endogenous sites, in the order the program samples them."""

    @abc.abstractmethod
    def parents(self, name: str) -> list[str]:
        """The sites the law of ``name`` depends on."""

    @abc.abstractmethod
    def prototype(self, name: str):
        """A distribution with the site's support, event shape and dtype (for value checks)."""

    @abc.abstractmethod
    def mechanisms(self) -> dict[str, str]:
        """Each site's noise form, as :meth:`causalppl.noise.NoiseModel.describe` names it."""

    @abc.abstractmethod
    def draw_noise(self, num: int) -> dict[str, torch.Tensor]:
        """``num`` draws of every site's exogenous noise from its prior."""

    @abc.abstractmethod
    def push(self, noise: Mapping[str, torch.Tensor], do: Mapping[str, object]) -> Answer | None:
        """Every site's value from ``noise`` under ``do`` (ancestral sampling)."""

    @abc.abstractmethod
    def counterfactual(self, values: Mapping[str, torch.Tensor], do: Mapping[str, object]) -> Answer | None:
        """The counterfactual world of fully observed units: every noise abducted exactly
        from ``values``, ``do`` applied, its targets and their descendants recomputed, every
        other site exactly as observed."""

    @abc.abstractmethod
    def log_prob(self, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The joint log density ``[n]`` of fully observed units."""

    def prepare(self, values: Mapping[str, torch.Tensor]) -> None:  # noqa: B027 - optional hook
        """Called by :func:`causalppl.fit` with the training rows before it optimises."""


def batched_paths(model) -> BatchedPaths | None:
    """The model's batched paths, or ``None`` when it offers none."""
    offer = getattr(model, "batched_paths", None)
    if offer is None or not callable(offer):
        return None
    paths = offer()
    return paths if isinstance(paths, BatchedPaths) else None
