"""Linear causal representation learning from interventions (Squires et al. 2023): the model.

Data: ``x = G z`` (``G`` ``[p, d]`` of full column rank) where the latents ``z`` follow a
linear-Gaussian SEM ``z = Aᵀ z + Ω^{1/2} ε``, seen in an observational context and in ``d``
contexts that each apply a hard (perfect) intervention to a different, unknown latent.
Squires et al. show that then ``H = G⁺`` and the latent DAG are identified up to
permutation and scaling, and that without an intervention on some latent they are not
(:func:`shear_latent` builds the ambiguity). The model is the Pyro program
:func:`crl_model` (one unit, latents then ``x``) and, with the latents integrated out,
:func:`crl_marginal_model`; :mod:`causalppl.identify.crl_fit` holds the estimator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph

__all__ = ["CRLParams", "crl_log_likelihood", "crl_marginal_model", "crl_model", "shear_latent"]


@dataclass
class CRLParams:
    """Parameters of the interventional linear latent model (square mixing, ``p = d``).

    Attributes:
        unmixing: ``H`` ``[d, d]``; latents ``z = H x``.
        weights: ``A`` ``[d, d]``; ``A[i, j]`` is the weight of latent ``i -> j`` (a DAG).
        scales: observational noise sd of each latent ``[d]``.
        targets: ``targets[k - 1]`` is the latent hard-intervened in context ``k``.
        intervention_scales: noise sd of the intervened latent in each context ``[K]``.

    Example:
        >>> p = CRLParams(torch.eye(2), torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.ones(2), [1], torch.ones(1))
        >>> p.precision(0).tolist(), p.precision(1).tolist()  # z1 = z0 + e1; then z1 cut from z0
        ([[2.0, -1.0], [-1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    """

    unmixing: torch.Tensor
    weights: torch.Tensor
    scales: torch.Tensor
    targets: list[int]
    intervention_scales: torch.Tensor

    @classmethod
    def from_contexts(cls, contexts) -> CRLParams:
        """The parameters of a ground truth with a square mixing ``G``: ``H = G⁻¹``.

        Args:
            contexts: an :class:`~causalppl.testing.latent_models.InterventionalContexts`
                (anything with its ``latent``, ``mixing``, ``targets`` and
                ``intervention_scales``); latent ``i`` of the result is
                ``contexts.latent.graph.nodes[i]``.

        Example:
            >>> from hypothesis import find
            >>> from causalppl.testing import strategies as st
            >>> ic = find(st.interventional_contexts(dim=2), lambda ic: True)
            >>> p = CRLParams.from_contexts(ic)
            >>> bool(torch.allclose(p.unmixing @ ic.mixing, torch.eye(2, dtype=p.unmixing.dtype)))
            True
        """
        mixing = contexts.mixing
        if mixing.ndim != 2 or mixing.shape[0] != mixing.shape[1]:
            raise CausalError(f"contexts.mixing must be square for CRLParams, got shape {tuple(mixing.shape)}")
        nodes = contexts.latent.graph.nodes
        index = {n: i for i, n in enumerate(nodes)}
        weights = torch.zeros(len(nodes), len(nodes), dtype=mixing.dtype)
        for (p, c), w in contexts.latent.weights.items():
            weights[index[p], index[c]] = w
        scales = torch.tensor([contexts.latent.scales[n] for n in nodes], dtype=mixing.dtype)
        return cls(
            torch.linalg.inv(mixing),
            weights,
            scales,
            [index[t] for t in contexts.targets],
            torch.tensor(contexts.intervention_scales, dtype=mixing.dtype),
        )

    def precision(self, context: int) -> torch.Tensor:
        """``Θ_k = Hᵀ B_kᵀ B_k H`` of ``x`` in ``context``."""
        d = self.weights.shape[0]
        a, scales = self.weights, self.scales
        if context > 0:
            t = self.targets[context - 1]
            keep = torch.ones(d, dtype=a.dtype)
            keep[t] = 0.0
            a = a * keep  # the intervened latent loses its parents (column t of A)
            scales = torch.where(torch.arange(d) == t, self.intervention_scales[context - 1], scales)
        b = (torch.eye(d, dtype=a.dtype) - a.T) / scales[:, None]
        bh = b @ self.unmixing
        return bh.T @ bh


def crl_model(params: CRLParams, context: int = 0) -> torch.Tensor:
    """One unit in ``context``: latent sites ``z0, z1, ...`` in causal order, then ``x = H⁻¹ z``.

    Context 0 is observational; in context ``k`` latent ``params.targets[k - 1]`` loses its
    parents and has noise sd ``params.intervention_scales[k - 1]``.

    Example:
        >>> import causalppl as cp
        >>> p = CRLParams(torch.eye(2), torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.ones(2), [1],
        ...               torch.ones(1))
        >>> cp.graph(crl_model, p).parents("z1"), cp.graph(crl_model, p, 1).parents("z1")
        (['z0'], [])
    """
    d = params.weights.shape[0]
    if checks.int_at_least(context, "context", 0) > len(params.targets):
        raise CausalError(f"context must be in [0, {len(params.targets)}] (0: observational), got {context}")
    graph = CausalGraph.from_adjacency((params.weights.abs() > 0).int().numpy(), [f"z{i}" for i in range(d)])
    values = {}
    target = params.targets[context - 1] if context > 0 else None
    for name in graph.nodes:
        i = int(name[1:])
        if i == target:
            values[i] = pyro.sample(name, dist.Normal(0.0, params.intervention_scales[context - 1]))
            continue
        loc = sum(
            (params.weights[int(p[1:]), i] * values[int(p[1:])] for p in graph.parents(name)),
            torch.zeros((), dtype=params.weights.dtype),
        )
        values[i] = pyro.sample(name, dist.Normal(loc, params.scales[i]))
    z = torch.stack([values[i] for i in range(d)], -1)
    return pyro.deterministic("x", torch.linalg.solve(params.unmixing, z.unsqueeze(-1)).squeeze(-1), event_dim=1)


def crl_marginal_model(
    params: CRLParams, xs: Sequence[torch.Tensor] | None = None, sizes: Sequence[int] | None = None
) -> None:
    """All contexts with the latents integrated out: ``x_k ~ N(0, Θ_k⁻¹)``, one plate each.

    Example:
        >>> p = CRLParams(torch.eye(2), torch.zeros(2, 2), torch.ones(2), [0], torch.ones(1))
        >>> tr = poutine.trace(crl_marginal_model).get_trace(p, sizes=[3, 4])
        >>> tr.nodes["x_0"]["value"].shape, tr.nodes["x_1"]["value"].shape
        (torch.Size([3, 2]), torch.Size([4, 2]))
    """
    sizes = [x.shape[0] for x in xs] if xs is not None else sizes
    for k, n in enumerate(sizes):
        d = params.unmixing.shape[1]
        with pyro.plate(f"units_{k}", n):
            pyro.sample(
                f"x_{k}",
                dist.MultivariateNormal(
                    torch.zeros(d, dtype=params.weights.dtype), precision_matrix=params.precision(k)
                ),
                obs=None if xs is None else xs[k],
            )


def crl_log_likelihood(xs: Sequence[torch.Tensor], params: CRLParams) -> torch.Tensor:
    """Total log density of every context's (centred) data under :func:`crl_marginal_model`.

    Example:
        >>> p = CRLParams(torch.eye(1), torch.zeros(1, 1), torch.ones(1), [0], torch.ones(1))
        >>> x = torch.zeros(1, 1)
        >>> f"{float(crl_log_likelihood([x, x], p)):.6f}"  # 2 log N(0; 0, 1)
        '-1.837877'
    """
    if len(xs) != 1 + len(params.targets):
        raise CausalError(f"xs has {len(xs)} contexts but params describe {1 + len(params.targets)}")
    return poutine.trace(crl_marginal_model).get_trace(params, list(xs)).log_prob_sum()


def shear_latent(params: CRLParams, latent: int, source: int, amount: float) -> CRLParams:
    """The parameterisation with ``z'_latent = z_latent + amount · z_source`` (others unchanged).

    Rewrites ``H`` (row ``latent`` gains ``amount ·`` row ``source``) and the SEM: the new
    latent gains the edge ``source -> latent`` and every child ``c`` of ``latent`` gets
    ``A[source, c] -= amount · A[latent, c]``, so every equation that is not intervened on
    still holds. When no context intervenes on ``latent`` the law of ``x`` is the same in
    every context (Squires et al. 2023, Prop. 1: without an intervention per latent the
    model is not identifiable); a hard intervention on ``latent`` is exactly what this
    shear violates.

    Raises:
        CausalError: ``source`` is ``latent`` or a descendant of it (the shear would make a cycle).

    Example:
        >>> p = CRLParams(torch.eye(2), torch.zeros(2, 2), torch.ones(2), [0], torch.ones(1))
        >>> shear_latent(p, 1, 0, 0.5).unmixing.tolist()
        [[1.0, 0.0], [0.5, 1.0]]
    """
    d = params.weights.shape[0]
    for name, v in (("latent", latent), ("source", source)):
        if not 0 <= v < d:
            raise CausalError(f"{name} must be a latent index in [0, {d}), got {v}")
    graph = CausalGraph.from_adjacency((params.weights != 0).int().numpy(), [str(i) for i in range(d)])
    if source == latent or str(source) in graph.descendants(str(latent)):
        raise CausalError(f"source {source} is latent {latent} or one of its descendants; the shear would be cyclic")
    h = params.unmixing.clone()
    h[latent] = h[latent] + amount * h[source]
    a = params.weights.clone()
    for c in range(d):
        if a[latent, c] != 0:
            a[source, c] = a[source, c] - amount * a[latent, c]
    a[source, latent] = a[source, latent] + amount
    return replace(params, unmixing=h, weights=a)
