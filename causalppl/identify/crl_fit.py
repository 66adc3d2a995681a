"""Linear causal representation learning from interventions (Squires et al. 2023): the estimator.

The model is in :mod:`causalppl.identify.crl`. The estimator uses Squires et al.'s algebra
in a constructive form. With ``B_k = D_k^{-1/2} (I - A_k)``, the precision of ``x`` in
context ``k`` is ``Θ_k = Hᵀ B_kᵀ B_k H``, and a hard intervention on latent ``i`` changes
one row of ``B``: ``Θ_k - Θ_0 = h_i h_iᵀ / σ_k² - c_i c_iᵀ`` with
``c_i ∈ span{h_j : j ∈ {i} ∪ pa(i)}``. Peeling latents in causal order:

1. with ``V`` the span of the rows ``h_j`` already found, the context whose difference,
   projected off ``V``, is closest to rank one intervenes on a latent whose parents are
   all in ``V`` (projected differences of the other contexts have rank two);
2. its leading eigenvector gives ``h_i`` modulo ``V``; the ``V`` component is fixed by the
   hard intervention: in that context ``z_i`` is uncorrelated with every earlier latent.

Then the latent graph comes from t-tests of OLS fits along the peeling order (pooling the
contexts that leave each equation intact), and optionally every parameter is refined by
maximising the log density of the Pyro program
:func:`~causalppl.identify.crl.crl_marginal_model` with L-BFGS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph
from .crl import CRLParams, crl_log_likelihood
from .linear_sem import significant_parents
from .optimize import minimize_lbfgs

__all__ = ["CRLResult", "fit_interventional_crl"]


@dataclass
class CRLResult:
    """Outcome of :func:`fit_interventional_crl`.

    Latent ``z{k-1}`` is the latent intervened in context ``k``, so the labels are fixed
    by the contexts; scale: unit observational variance.

    Attributes:
        unmixing: ``[d, p]``; ``latents(x) = x @ unmixing.T`` (each latent up to a constant
            shift: the contexts were centred for the fit).
        graph: the latent DAG over ``"z0", ..., "z{d-1}"``.
        weights: ``[d, d]`` latent SEM weights (``weights[i, j]``: ``z_i -> z_j``).
        order: the causal order of the latents found by peeling.
        params: the model in projected coordinates (see :func:`crl_log_likelihood`).
        projection: ``[d, p]`` map from observations to those coordinates.
        log_likelihood: of the projected data under ``params``.

    Example:
        >>> g = torch.Generator().manual_seed(1)
        >>> z = [torch.randn(500, 2, generator=g, dtype=torch.float64) * s for s in (1.0, 0.3, 0.3)]
        >>> z[1][:, 1], z[2][:, 0] = z[1][:, 1] / 0.3, z[2][:, 0] / 0.3  # context k cuts latent k-1's noise
        >>> fit = fit_interventional_crl(z)
        >>> fit.graph.edges, fit.order, tuple(fit.latents(z[0]).shape)
        ([], ['z0', 'z1'], (500, 2))
    """

    unmixing: torch.Tensor
    graph: CausalGraph
    weights: torch.Tensor
    order: list[str]
    params: CRLParams
    projection: torch.Tensor
    log_likelihood: float

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """The recovered latents of observations ``x`` ``[n, p]``: ``x @ unmixing.T``."""
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


def fit_interventional_crl(
    xs: Sequence, *, alpha: float = 1e-3, min_effect: float = 0.1, refine: bool = True, steps: int = 200
) -> CRLResult:
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
    stacked = isinstance(xs, (torch.Tensor, np.ndarray)) and xs.ndim == 3  # [contexts, n, p]
    single = isinstance(xs, (str, bytes, Mapping, torch.Tensor, np.ndarray)) or not isinstance(xs, Iterable)
    if single and not stacked:
        raise CausalError(f"xs must be a list of [n, p] matrices, one per context, got {type(xs).__name__}")
    xs = list(xs)
    if len(xs) < 2:
        raise CausalError(f"xs needs an observational and at least one interventional context, got {len(xs)}")
    xs = [torch.as_tensor(checks.matrix(x, f"xs[{k}]"), dtype=torch.get_default_dtype()) for k, x in enumerate(xs)]
    alpha = checks.open_fraction(alpha, "alpha")
    min_effect = checks.nonnegative_number(min_effect, "min_effect")
    refine = checks.boolean(refine, "refine")
    steps = checks.positive_int(steps, "steps")
    d, p = len(xs) - 1, xs[0].shape[1]
    for k, x in enumerate(xs):
        if x.shape[1] != p:
            raise CausalError(f"xs[{k}] must be [n, {p}], got shape {tuple(x.shape)}")
        if x.shape[0] <= p + 1:
            raise CausalError(f"xs[{k}] has {x.shape[0]} rows; need more than p + 1 = {p + 1}")
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
    return CRLResult(
        params.unmixing @ projection, graph, params.weights, [names[k] for k in order], params, projection, ll
    )


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
    return replace(
        params,
        unmixing=h * f[:, None],
        weights=params.weights / f[:, None] * f[None, :],
        scales=params.scales * f.abs(),
        intervention_scales=params.intervention_scales * f.abs(),
    )


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
    init = [
        params.unmixing.reshape(-1),
        params.weights.reshape(-1),
        params.scales.log(),
        params.intervention_scales.log(),
    ]
    flat = torch.cat(init)

    def unpack(v):
        h, a, s, t = torch.split(v, [d * d, d * d, d, d])
        return replace(
            params, unmixing=h.view(d, d), weights=a.view(d, d) * mask, scales=s.exp(), intervention_scales=t.exp()
        )

    flat = minimize_lbfgs(lambda v: -crl_log_likelihood(xw, unpack(v)) / n_total, flat, steps=steps)
    refined = unpack(flat)
    return refined if float(crl_log_likelihood(xw, refined)) >= ll0 else params
