"""Linear causal representation learning from interventions (Squires et al. 2023).

Data: ``x = G z`` (``G`` ``[p, d]`` of full column rank) where the latents ``z`` follow a
linear-Gaussian SEM ``z = Aᵀ z + Ω^{1/2} ε``, seen in an observational context and in ``d``
contexts that each apply a hard (perfect) intervention to a different, unknown latent.
Squires et al. show that then ``H = G⁺`` and the latent DAG are identified up to
permutation and scaling, and that without an intervention on some latent they are not.

The estimator here uses the same algebra in a constructive form. With ``B_k = D_k^{-1/2}
(I - A_k)``, the precision of ``x`` in context ``k`` is ``Θ_k = Hᵀ B_kᵀ B_k H``, and a hard
intervention on latent ``i`` changes one row of ``B``: ``Θ_k - Θ_0 = h_i h_iᵀ / σ_k² - c_i
c_iᵀ`` with ``c_i ∈ span{h_j : j ∈ {i} ∪ pa(i)}``. Peeling latents in causal order:

1. with ``V`` the span of the rows ``h_j`` already found, the context whose difference,
   projected off ``V``, is closest to rank one intervenes on a latent whose parents are
   all in ``V`` (projected differences of the other contexts have rank two);
2. its leading eigenvector gives ``h_i`` modulo ``V``; the ``V`` component is fixed by the
   hard intervention: in that context ``z_i`` is uncorrelated with every earlier latent.

Then the latent graph comes from t-tests of OLS fits along the peeling order (pooling the
contexts that leave each equation intact), and optionally every parameter is refined by
maximising the log density of the Pyro program :func:`crl_marginal_model` with L-BFGS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch

from ..errors import CausalError
from ..graph import CausalGraph
from .linear_sem import significant_parents

__all__ = ["CRLParams", "CRLResult", "crl_log_likelihood", "crl_marginal_model", "crl_model",
           "fit_interventional_crl", "shear_latent"]


@dataclass
class CRLParams:
    """Parameters of the interventional linear latent model (square mixing, ``p = d``).

    Attributes:
        unmixing: ``H`` ``[d, d]``; latents ``z = H x``.
        weights: ``A`` ``[d, d]``; ``A[i, j]`` is the weight of latent ``i -> j`` (a DAG).
        scales: observational noise sd of each latent ``[d]``.
        targets: ``targets[k - 1]`` is the latent hard-intervened in context ``k``.
        intervention_scales: noise sd of the intervened latent in each context ``[K]``.
    """

    unmixing: torch.Tensor
    weights: torch.Tensor
    scales: torch.Tensor
    targets: list[int]
    intervention_scales: torch.Tensor

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
    """One unit in ``context``: latent sites ``z0, z1, ...`` in causal order, then ``x = H⁻¹ z``."""
    d = params.weights.shape[0]
    graph = CausalGraph.from_adjacency((params.weights.abs() > 0).int().numpy(), [f"z{i}" for i in range(d)])
    values = {}
    target = params.targets[context - 1] if context > 0 else None
    for name in graph.nodes:
        i = int(name[1:])
        if i == target:
            values[i] = pyro.sample(name, dist.Normal(0.0, params.intervention_scales[context - 1]))
            continue
        loc = sum((params.weights[int(p[1:]), i] * values[int(p[1:])] for p in graph.parents(name)),
                  torch.zeros((), dtype=params.weights.dtype))
        values[i] = pyro.sample(name, dist.Normal(loc, params.scales[i]))
    z = torch.stack([values[i] for i in range(d)], -1)
    return pyro.deterministic("x", torch.linalg.solve(params.unmixing, z.unsqueeze(-1)).squeeze(-1), event_dim=1)


def crl_marginal_model(params: CRLParams, xs: Sequence[torch.Tensor] | None = None,
                       sizes: Sequence[int] | None = None) -> None:
    """All contexts with the latents integrated out: ``x_k ~ N(0, Θ_k⁻¹)``, one plate each."""
    sizes = [x.shape[0] for x in xs] if xs is not None else sizes
    for k, n in enumerate(sizes):
        d = params.unmixing.shape[1]
        with pyro.plate(f"units_{k}", n):
            pyro.sample(f"x_{k}", dist.MultivariateNormal(torch.zeros(d, dtype=params.weights.dtype),
                                                          precision_matrix=params.precision(k)),
                        obs=None if xs is None else xs[k])


def crl_log_likelihood(xs: Sequence[torch.Tensor], params: CRLParams) -> torch.Tensor:
    """Total log density of every context's (centred) data under :func:`crl_marginal_model`."""
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


@dataclass
class CRLResult:
    """Outcome of :func:`fit_interventional_crl`.

    Latent ``z{k-1}`` is the latent intervened in context ``k``, so the labels are fixed
    by the contexts; scale: unit observational variance.

    Attributes:
        unmixing: ``[d, p]``; ``latents(x) = (x - mean) @ unmixing.T``.
        graph: the latent DAG over ``"z0", ..., "z{d-1}"``.
        weights: ``[d, d]`` latent SEM weights (``weights[i, j]``: ``z_i -> z_j``).
        order: the causal order of the latents found by peeling.
        params: the model in projected coordinates (see :func:`crl_log_likelihood`).
        projection: ``[d, p]`` map from observations to those coordinates.
        log_likelihood: of the projected data under ``params``.
    """

    unmixing: torch.Tensor
    graph: CausalGraph
    weights: torch.Tensor
    order: list[str]
    params: CRLParams
    projection: torch.Tensor
    log_likelihood: float

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.unmixing.T


def _cov(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(0)
    return xc.T @ xc / (x.shape[0] - 1)


def _peel(covs: list[torch.Tensor], sizes: list[int]) -> tuple[torch.Tensor, list[int]]:
    """Rows ``h`` (whitened coordinates, ``Θ_0 = I``) in peeling order, and that order.

    "Closest to rank one" is measured as a z-score: the second-largest eigenvalue (in
    magnitude) ``λ₂`` of the projected difference, over its sampling sd under rank one,
    ``√(2/n_k) v₂ᵀ Θ̂_k v₂ + √(2/n_0)`` (a precision estimate's quadratic form ``vᵀ Θ̂ v``
    has sd ``≈ √(2/n) vᵀ Θ v``); a ratio ``|λ₂ / λ₁|`` would be fooled by one large
    eigenvalue.
    """
    d = covs[0].shape[0]
    thetas = [torch.linalg.inv(c) for c in covs]
    deltas = [t - torch.eye(d, dtype=t.dtype) for t in thetas[1:]]
    rows: list[torch.Tensor] = []
    order: list[int] = []
    remaining = list(range(d))
    while remaining:
        if rows:
            q, _ = torch.linalg.qr(torch.stack(rows, 1))
            perp = torch.eye(d, dtype=q.dtype) - q @ q.T
        else:
            perp = torch.eye(d, dtype=covs[0].dtype)
        best = None
        for k in remaining:
            evals, evecs = torch.linalg.eigh(perp @ deltas[k] @ perp)
            mags, idx = evals.abs().sort(descending=True)
            score = 0.0
            if d > 1:
                v2 = evecs[:, idx[1]]
                sd = (2.0 / sizes[k + 1]) ** 0.5 * float(v2 @ thetas[k + 1] @ v2) + (2.0 / sizes[0]) ** 0.5
                score = float(mags[1]) / sd
            if best is None or score < best[0]:
                best = (score, k, evecs[:, idx[0]])
        _, k, u = best
        h = u
        if rows:  # make z_k uncorrelated with earlier latents in its own context
            s = covs[k + 1]
            prev = torch.stack(rows)
            gram = prev @ s @ prev.T
            beta = torch.linalg.solve(gram, -(prev @ s @ u))
            h = u + beta @ prev
        h = h / h.norm()
        rows.append(h)
        order.append(k)
        remaining.remove(k)
    return torch.stack(rows), order


def fit_interventional_crl(xs: Sequence, *, alpha: float = 1e-3, min_effect: float = 0.1,
                           refine: bool = True, steps: int = 200) -> CRLResult:
    """Recover latents and latent DAG from one observational and ``d`` hard-intervention contexts.

    Args:
        xs: ``[x_0, x_1, ..., x_d]``, each ``[n_k, p]``; ``x_0`` observational, ``x_k``
            under a hard intervention on one latent (a different one per context; which
            one need not be known). The latent dimension is ``d = len(xs) - 1 <= p``.
        alpha: level of the t-tests (OLS on the recovered latents) an edge must pass.
        min_effect: an edge must also have a standardized weight
            ``|A_ij| sd(z_i) / sd(z_j)`` of at least this (the t-test alone ignores the
            estimation error of the latents, so it would keep tiny leaked dependencies).
        refine: polish the moment estimate by maximum likelihood of the Pyro program
            :func:`crl_marginal_model`, all edges of the causal order allowed, before the
            graph is decided.

    Example:
        >>> from causalppl.metrics import mcc
        >>> g = torch.Generator().manual_seed(0)
        >>> def latents(n, hard=None):
        ...     z0 = torch.randn(n, generator=g, dtype=torch.float64) * (3.0 if hard == 0 else 1.0)
        ...     z1 = torch.randn(n, generator=g, dtype=torch.float64) * (0.4 if hard == 1 else 1.0)
        ...     return torch.stack([z0, z1 + (0.0 if hard == 1 else z0)], -1)
        >>> mix = torch.tensor([[1.0, 0.5], [-0.3, 1.0]], dtype=torch.float64)
        >>> zs = [latents(4000), latents(4000, 1), latents(4000, 0)]
        >>> fit = fit_interventional_crl([z @ mix.T for z in zs])
        >>> fit.graph.edges, mcc(zs[0], fit.latents(zs[0] @ mix.T)) > 0.99
        ([('z1', 'z0')], True)
    """
    xs = [torch.as_tensor(np.asarray(x), dtype=torch.get_default_dtype()) for x in xs]
    if len(xs) < 2:
        raise CausalError(f"xs needs an observational and at least one interventional context, got {len(xs)}")
    d, p = len(xs) - 1, xs[0].shape[1]
    for k, x in enumerate(xs):
        if x.ndim != 2 or x.shape[1] != p:
            raise CausalError(f"xs[{k}] must be [n, {p}], got shape {tuple(x.shape)}")
        if x.shape[0] <= p + 1:
            raise CausalError(f"xs[{k}] has {x.shape[0]} rows; need more than p + 1 = {p + 1}")
        if not torch.isfinite(x).all():
            raise CausalError(f"xs[{k}] contains NaN or inf")
    if d > p:
        raise CausalError(f"{d} interventional contexts imply {d} latents, more than the {p} observed dims")
    xs = [x - x.mean(0) for x in xs]
    # Observations live in the d-dim column space of G: project onto it, then whiten with Σ_0.
    pooled = sum(_cov(x) for x in xs)
    evecs = torch.linalg.eigh(pooled)[1][:, -d:]
    evals0, evecs0 = torch.linalg.eigh(evecs.T @ _cov(xs[0]) @ evecs)
    projection = (evecs0 / evals0.sqrt()).T @ evecs.T  # [d, p]: whitened projected coordinates
    xw = [x @ projection.T for x in xs]
    rows, order = _peel([_cov(x) for x in xw], [x.shape[0] for x in xw])
    unmixing = torch.empty_like(rows)
    unmixing[order] = rows  # latent k-1 <-> context k
    names = [f"z{i}" for i in range(d)]
    everything = {i: list(order[:pos]) for pos, i in enumerate(order)}
    params = _latent_sem(xw, unmixing, everything)
    if refine:
        params = _refine(xw, params, steps)
    params = _normalise(xw[0], params)
    parents = _select_edges(xw, params.unmixing, order, alpha, min_effect)
    params = _latent_sem(xw, params.unmixing, parents)
    graph = CausalGraph({names[i]: [names[j] for j in parents[i]] for i in range(d)})
    ll = float(crl_log_likelihood(xw, params))
    return CRLResult(params.unmixing @ projection, graph, params.weights, [names[k] for k in order],
                     params, projection, ll)


def _pooled_latents(xw, unmixing, i):
    """Latents from every context that keeps latent ``i``'s equation, centred per context."""
    return torch.cat([(x - x.mean(0)) @ unmixing.T for k, x in enumerate(xw) if k != i + 1])


def _latent_sem(xw, unmixing, parents: dict[int, list[int]]) -> CRLParams:
    """OLS weights and noise scales of each latent on the given parents (pooled contexts)."""
    d = unmixing.shape[0]
    weights = torch.zeros(d, d, dtype=unmixing.dtype)
    scales = torch.empty(d, dtype=unmixing.dtype)
    for i in range(d):
        z = _pooled_latents(xw, unmixing, i)
        pa = parents[i]
        resid = z[:, i]
        if pa:
            coef = torch.linalg.lstsq(z[:, pa], z[:, i : i + 1]).solution[:, 0]
            weights[pa, i] = coef
            resid = z[:, i] - z[:, pa] @ coef
        scales[i] = resid.std()
    iscales = torch.stack([(xw[k + 1] @ unmixing[k]).std() for k in range(d)])
    return CRLParams(unmixing, weights, scales, list(range(d)), iscales)


def _normalise(x0, params: CRLParams) -> CRLParams:
    """Unit observational variance and a deterministic sign (largest entry positive) per latent."""
    h = params.unmixing
    scale = (x0 @ h.T).std(0)
    sign = torch.sign(h.gather(1, h.abs().argmax(1, keepdim=True)))[:, 0]
    f = sign / scale
    return replace(params, unmixing=h * f[:, None], weights=params.weights / f[:, None] * f[None, :],
                   scales=params.scales * f.abs(), intervention_scales=params.intervention_scales * f.abs())


def _select_edges(xw, unmixing, order, alpha, min_effect) -> dict[int, list[int]]:
    """Parents among predecessors: significant (t-test) and with a standardized weight >= min_effect."""
    parents = {}
    for pos, i in enumerate(order):
        z = _pooled_latents(xw, unmixing, i)
        preds = list(order[:pos])
        kept = significant_parents(z, i, preds, alpha)
        if kept:
            coef = torch.linalg.lstsq(z[:, preds], z[:, i : i + 1]).solution[:, 0]
            sd = z.std(0)
            effect = {j: float(c.abs() * sd[j] / sd[i]) for j, c in zip(preds, coef)}
            kept = [j for j in kept if effect[j] >= min_effect]
        parents[i] = kept
    return parents


def _refine(xw, params: CRLParams, steps: int) -> CRLParams:
    """Maximise the Pyro program's log density over all parameters, the support of A held fixed."""
    d = params.weights.shape[0]
    mask = (params.weights != 0).to(params.weights.dtype)
    n_total = sum(x.shape[0] for x in xw)
    ll0 = float(crl_log_likelihood(xw, params))
    init = [params.unmixing.reshape(-1), params.weights.reshape(-1),
            params.scales.log(), params.intervention_scales.log()]
    flat = torch.cat(init).clone().requires_grad_(True)

    def unpack(v):
        h, a, s, t = torch.split(v, [d * d, d * d, d, d])
        return replace(params, unmixing=h.view(d, d), weights=a.view(d, d) * mask, scales=s.exp(),
                       intervention_scales=t.exp())

    opt = torch.optim.LBFGS([flat], max_iter=steps, tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -crl_log_likelihood(xw, unpack(flat)) / n_total
        loss.backward()
        return loss

    opt.step(closure)
    refined = unpack(flat.detach())
    return refined if float(crl_log_likelihood(xw, refined)) >= ll0 else params
