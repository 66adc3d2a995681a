"""The kinds of worlds: twin (factual and counterfactual) and paired (two interventions)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ._factory import make_handler
from .worlds import WorldsMessenger

__all__ = ["COUNTERFACTUAL", "FACTUAL", "PairedWorldsMessenger", "TwinWorldMessenger", "twin_world"]

FACTUAL, COUNTERFACTUAL = 0, 1


class TwinWorldMessenger(WorldsMessenger):
    """Run a program in the factual and the counterfactual world at once.

    World 0 is factual, world 1 counterfactual. Every site's exogenous noise ``u`` is drawn
    (or abducted) once and pushed through both worlds' mechanisms, so the worlds differ only
    downstream of ``actions``, which apply in the counterfactual world alone. This holds for
    *every* site with a known noise form (location-scale, flows, quantile, Gumbel-max), not
    only for sites written with explicit noise. Observed sites (``evidence``, or sites the
    program observes itself) take their value in the factual world; their noise is
    recovered from it (abduction: an exact inverse, or an exact posterior draw for
    Gumbel-max sites) and pushed into the counterfactual world.

    Args:
        actions: ``{site: value or callable}`` applied in the counterfactual world.
        evidence: ``{site: value}`` observed in the factual world.
        factual_actions: interventions in the factual world (evidence is then read in the
            intervened world).
        **kwargs: as :class:`~causalppl.handlers.worlds.WorldsMessenger` (``noise``, ``dim``,
            ``keep_dims``, ``weigh``, ``checked_evidence``).

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(2 * x, 1.0))
        >>> tw = cp.twin_world(model, actions={"x": 1.0}, evidence={"x": 0.0, "y": 0.5}, dim=-1)
        >>> tw().tolist()   # y = 2x + u with u = 0.5: factual 0.5, counterfactual 2.5
        [0.5, 2.5]
    """

    def __init__(
        self,
        actions: Mapping | None = None,
        evidence: Mapping | None = None,
        noise: Mapping[str, torch.Tensor] | None = None,
        dim: int = -4,
        factual_actions: Mapping | None = None,
        **kwargs,
    ):
        super().__init__(
            [factual_actions or {}, actions or {}],
            evidence=evidence,
            noise=noise,
            dim=dim,
            evidence_world=FACTUAL,
            **kwargs,
        )


class PairedWorldsMessenger(WorldsMessenger):
    """Two interventional worlds with shared noise: paired potential outcomes.

    World 0 applies ``baseline``, world 1 ``do``; every unit's outcome in both worlds comes
    from the same noise, so a difference of means has far less variance than two
    independent runs (:func:`causalppl.effect`).

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     return pyro.sample("y", dist.Normal(3 * x, 1.0))
        >>> with PairedWorldsMessenger({"x": 1.0}, {"x": 0.0}, dim=-1):
        ...     y = model()
        >>> float(y[1] - y[0])
        3.0
    """

    def __init__(self, do: Mapping, baseline: Mapping | None = None, dim: int = -4, **kwargs):
        super().__init__([baseline or {}, do], dim=dim, weigh=False, **kwargs)


twin_world = make_handler(TwinWorldMessenger)
