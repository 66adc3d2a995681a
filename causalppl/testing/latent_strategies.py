"""Hypothesis strategies for latent-variable ground truths: mixings, segments, contexts.

Each draws an integer seed and builds its tensors from its own ``torch.Generator``, so
examples shrink and replay like any other drawn value. Gathered, with the graph and SCM
strategies, in :mod:`causalppl.testing.strategies`.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as hst

from ..errors import CausalError
from ..linalg import random_well_conditioned
from .latent_models import InterventionalContexts, LeakyReluMLPMixing, LinearMixing, SegmentLatentModel
from .scm_strategies import _as_strategy, _uniform, dags, linear_scms, seeds

__all__ = [
    "interventional_contexts",
    "invertible_linear_mixings",
    "leaky_relu_mlp_mixings",
    "segment_latent_models",
]


@hst.composite
def invertible_linear_mixings(draw, dim=3, obs_dim=None, max_condition: float = 5.0):
    """Random ``[obs_dim, dim]`` mixing matrices with condition number ``<= max_condition``.

    ``dim`` and ``obs_dim`` (default ``dim``) may be ints or strategies.

    Example:
        >>> from hypothesis import find
        >>> mix = find(invertible_linear_mixings(dim=2, obs_dim=3, max_condition=4.0), lambda m: True)
        >>> tuple(mix.matrix.shape), mix.condition_number <= 4.0 + 1e-9
        ((3, 2), True)
    """
    d = draw(_as_strategy(dim))
    p = d if obs_dim is None else draw(_as_strategy(obs_dim))
    if p < d:
        raise CausalError(f"obs_dim ({p}) must be >= dim ({d}) for an invertible mixing")
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    return LinearMixing(random_well_conditioned(p, d, max_condition, gen), seed)


@hst.composite
def leaky_relu_mlp_mixings(
    draw, dim=3, layers=2, max_condition: float = 3.0, negative_slope: float = 0.2
) -> LeakyReluMLPMixing:
    """Random invertible leaky-ReLU MLPs ``R^dim -> R^dim`` (see :class:`LeakyReluMLPMixing`).

    Example:
        >>> from hypothesis import find
        >>> len(find(leaky_relu_mlp_mixings(dim=2, layers=3), lambda m: True).weights)
        3
    """
    d, n_layers = draw(_as_strategy(dim)), draw(_as_strategy(layers))
    if not 0 < negative_slope <= 1:
        raise CausalError(f"negative_slope must be in (0, 1], got {negative_slope}")
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    return LeakyReluMLPMixing.random(
        d, n_layers, max_condition=max_condition, negative_slope=negative_slope, generator=gen, seed=seed
    )


@hst.composite
def segment_latent_models(
    draw,
    dim=2,
    n_segments=None,
    mixing: str = "mlp",
    layers: int = 2,
    variance_range: tuple[float, float] = (0.1, 4.0),
    mean_range: float = 0.0,
    max_condition: float = 3.0,
    negative_slope: float = 0.5,
) -> SegmentLatentModel:
    """iVAE ground truths: per-segment latent variances (log-uniform in ``variance_range``)
    and, when ``mean_range > 0``, means uniform in ``[-mean_range, mean_range]``.

    Args:
        n_segments: default ``2 * dim + 1``, comfortably above the ``dim + 1`` segments that
            variance modulation needs for identifiability (Khemakhem et al. 2020, Thm 1).
        mixing: ``"mlp"`` (leaky-ReLU, ``layers`` layers) or ``"linear"``.
        negative_slope: of the MLP's leaky ReLUs. Each layer of slope ``a`` can squeeze a
            region by ``1/a``; below the decoder's noise level that region's latent
            information is gone, so the default keeps the squeeze mild.

    Example:
        >>> from hypothesis import find
        >>> m = find(segment_latent_models(dim=2), lambda m: True)
        >>> m.dim, m.n_segments
        (2, 5)
    """
    d = draw(_as_strategy(dim))
    m = draw(_as_strategy(n_segments)) if n_segments is not None else 2 * d + 1
    kind = draw(_as_strategy(mixing))
    return SegmentLatentModel.random(
        d,
        m,
        draw(seeds()),
        mixing=kind,
        layers=draw(_as_strategy(layers)),
        variance_range=variance_range,
        mean_range=mean_range,
        max_condition=max_condition,
        negative_slope=negative_slope,
    )


@hst.composite
def interventional_contexts(
    draw,
    dim=3,
    obs_dim=None,
    *,
    missing_interventions: int = 0,
    max_indegree: int = 2,
    weight_range: tuple[float, float] = (0.5, 1.5),
    scale_range: tuple[float, float] = (0.7, 1.3),
    intervention_ratio: tuple[float, float] = (1.7, 3.0),
    intervention_shift: str = "down",
    max_condition: float = 5.0,
) -> InterventionalContexts:
    """Squires et al. (2023) ground truths: linear-Gaussian latent SCM over ``dim`` nodes
    ``"z0", "z1", ...``,
    linear mixing ``[obs_dim, dim]``, an observational context and one hard intervention
    per latent, in a drawn (shuffled) order.

    Args:
        missing_interventions: how many latents get no intervention (the non-identifiable
            setting of Squires et al.'s Prop. 1).
        intervention_ratio: the intervened noise sd is the observational one divided
            (``intervention_shift="down"``), multiplied (``"up"``), or either (``"both"``,
            a coin decides) by a factor drawn in this range. The default ``"down"`` keeps
            every intervention's footprint on the precision matrix large: a hard
            intervention that *widens* a child's noise leaves a rank-two footprint whose
            second eigenvalue shrinks like ``1/σ'²``, and can sit below the sampling noise
            at moderate ``n`` (identifiable, but only with much more data).

    Example:
        >>> from hypothesis import find
        >>> ic = find(interventional_contexts(dim=3, missing_interventions=1), lambda ic: True)
        >>> len(ic.targets), ic.n_contexts
        (2, 3)
    """
    d = draw(_as_strategy(dim))
    latent = draw(
        linear_scms(
            "gaussian",
            graph=dags(d, d, max_indegree, prefix="z"),
            weight_range=weight_range,
            scale_range=scale_range,
            intercepts=False,
        )
    )
    order = draw(hst.permutations(latent.graph.nodes))
    if not 0 <= missing_interventions < d:
        raise CausalError(f"missing_interventions must be in [0, {d}), got {missing_interventions}")
    targets = list(order[: d - missing_interventions])
    p = d if obs_dim is None else draw(_as_strategy(obs_dim))
    mixing = draw(invertible_linear_mixings(d, p, max_condition)).matrix
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    if intervention_shift not in ("down", "up", "both"):
        raise CausalError(f"intervention_shift must be 'down', 'up' or 'both', got {intervention_shift!r}")
    scales = []
    for t in targets:
        (ratio,) = _uniform(gen, *intervention_ratio)
        coin = float(torch.rand(1, generator=gen, dtype=torch.float64)) < 0.5
        up = intervention_shift == "up" or (intervention_shift == "both" and coin)
        scales.append(latent.scales[t] * (ratio if up else 1.0 / ratio))
    return InterventionalContexts(latent, mixing, targets, scales, seed)
