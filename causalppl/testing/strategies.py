"""Hypothesis strategies for random causal ground truths, all seeded explicitly.

Hypothesis does not seed torch: every strategy that builds tensors draws an integer seed
(so it shrinks and replays like any other drawn value) and uses its own
``torch.Generator``. Graph structure and discrete choices are drawn by hypothesis itself,
so failures shrink towards small, sparse graphs.

Example:
    >>> from hypothesis import given
    >>> from causalppl.testing import strategies as st
    >>> @given(st.dags(max_nodes=4))
    ... def test_roots_come_first(g):
    ...     assert g.parents(g.nodes[0]) == []
    >>> test_roots_come_first()
"""

from __future__ import annotations

import torch
from hypothesis import event, target
from hypothesis import strategies as hst
from hypothesis.control import currently_in_test_context
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from ..errors import CausalError
from ..graph import CausalGraph
from .latent_models import (
    InterventionalContexts,
    LeakyReluMLPMixing,
    LinearMixing,
    SegmentLatentModel,
    random_well_conditioned,
)
from .random_models import NOISE_FAMILIES, NONLINEARITIES, RandomSCM

__all__ = [
    "dags",
    "interventional_contexts",
    "interventions",
    "invertible_linear_mixings",
    "leaky_relu_mlp_mixings",
    "linear_gaussian_scms",
    "linear_scms",
    "nonlinear_anms",
    "seeds",
    "segment_latent_models",
]


def seeds() -> SearchStrategy[int]:
    """Seeds for ``torch.Generator().manual_seed``."""
    return hst.integers(0, 2**32 - 1)


def _as_strategy(value) -> SearchStrategy:
    return value if isinstance(value, SearchStrategy) else hst.just(value)


def _observe(graph: CausalGraph) -> None:
    """Report size to hypothesis: ``event`` for statistics, ``target`` to steer the search
    towards larger graphs (shrinking alone would cover mostly 2-node graphs)."""
    if not currently_in_test_context():
        return
    n, e = len(graph), len(graph.edges)
    event(f"dag nodes={n}")
    event(f"dag edges={e}")
    for label, value in (("dag nodes", n), ("dag edges", e)):
        try:
            target(float(value), label=label)
        except InvalidArgument:  # a second graph in the same test case: already targeted
            pass


@hst.composite
def dags(draw, min_nodes: int = 2, max_nodes: int = 6, max_indegree: int = 3, prefix: str = "x") -> CausalGraph:
    """Random DAGs over ``"x0", "x1", ...`` (``prefix`` + index); shrinks towards few nodes
    and no edges.

    The topological order is a drawn permutation, so edges may point from ``x3`` to ``x1``
    (tests must not assume names are sorted); each edge from an earlier node is a coin
    flip, and a node keeps at most ``max_indegree`` of its drawn parents.
    """
    if not 1 <= min_nodes <= max_nodes:
        raise CausalError(f"need 1 <= min_nodes <= max_nodes, got {min_nodes}, {max_nodes}")
    if max_indegree < 0:
        raise CausalError(f"max_indegree must be >= 0, got {max_indegree}")
    n = draw(hst.integers(min_nodes, max_nodes))
    order = draw(hst.permutations(range(n)))
    parents: dict[str, list[str]] = {}
    for pos, j in enumerate(order):
        earlier = [f"{prefix}{order[k]}" for k in range(pos)]
        # One coin per candidate edge (each shrinks to "absent"): about half the allowed
        # edges are present, where a drawn list of parents would mostly be empty.
        flags = [draw(hst.booleans()) for _ in earlier] if max_indegree else []
        chosen = [p for p, on in zip(earlier, flags) if on][:max_indegree]
        parents[f"{prefix}{j}"] = sorted(chosen, key=lambda s: int(s[len(prefix):]))
    graph = CausalGraph({f"{prefix}{i}": parents[f"{prefix}{i}"] for i in range(n)})
    _observe(graph)
    return graph


def _uniform(gen: torch.Generator, low: float, high: float, size: int = 1) -> list[float]:
    u = torch.rand(size, generator=gen, dtype=torch.float64)
    return (low + (high - low) * u).tolist()


@hst.composite
def linear_scms(
    draw,
    noise="gaussian",
    *,
    graph=None,
    min_nodes: int = 2,
    max_nodes: int = 6,
    max_indegree: int = 3,
    weight_range: tuple[float, float] = (0.5, 2.0),
    scale_range: tuple[float, float] = (0.5, 1.5),
    intercepts: bool = True,
) -> RandomSCM:
    """Random linear SCMs ``x_j = b_j + Σ w_ij x_i + sd_j · U_j`` as Pyro programs.

    Args:
        noise: one of ``"gaussian_equal"`` (one sd for every node: identifiable, Peters &
            Bühlmann 2014), ``"gaussian"``, ``"laplace"``, ``"uniform"``, ``"student_t"``
            (df 5), or a strategy of these. Every family is scaled to standard deviation
            ``sd_j``.
        graph: a fixed :class:`CausalGraph` or a strategy of them (default :func:`dags`).
        weight_range: ``|w|`` is uniform in this range, the sign a fair coin.
        scale_range: noise standard deviations are uniform in this range.
        intercepts: draw ``b_j`` uniform in ``[-1, 1]`` (else 0).
    """
    family = draw(_as_strategy(noise))
    if family not in NOISE_FAMILIES:
        raise CausalError(f"noise must be one of {NOISE_FAMILIES}, got {family!r}")
    graphs = _as_strategy(graph) if graph is not None else dags(min_nodes, max_nodes, max_indegree)
    g = draw(graphs)
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for edge in g.edges:
        (mag,) = _uniform(gen, *weight_range)
        sign = 1.0 if float(torch.rand(1, generator=gen, dtype=torch.float64)) < 0.5 else -1.0
        weights[edge] = sign * mag
    if family == "gaussian_equal":
        scales = dict.fromkeys(g.nodes, _uniform(gen, *scale_range)[0])
    else:
        scales = dict(zip(g.nodes, _uniform(gen, *scale_range, size=len(g))))
    b = _uniform(gen, -1.0, 1.0, size=len(g)) if intercepts else [0.0] * len(g)
    icpt = dict(zip(g.nodes, b))
    return RandomSCM(g, weights, icpt, scales, family, seed=seed)


def linear_gaussian_scms(*, equal_variance: bool = False, **kwargs) -> SearchStrategy[RandomSCM]:
    """Random linear-Gaussian SCMs (see :func:`linear_scms`); ``mean_cov`` gives their law."""
    return linear_scms("gaussian_equal" if equal_variance else "gaussian", **kwargs)


@hst.composite
def nonlinear_anms(
    draw,
    *,
    graph=None,
    min_nodes: int = 2,
    max_nodes: int = 6,
    max_indegree: int = 3,
    noise="gaussian",
    weight_range: tuple[float, float] = (1.0, 2.0),
    scale_range: tuple[float, float] = (0.3, 1.0),
) -> RandomSCM:
    """Random additive-noise models ``x_j = b_j + Σ w_ij g_ij(x_i) + sd_j · U_j``.

    Each edge draws a bounded-growth nonlinearity ``g_ij`` from
    :data:`~causalppl.testing.random_models.NONLINEARITIES` (tanh, sin, centred
    softplus, Gaussian bump), so deep chains never overflow.
    """
    base = draw(linear_scms(noise, graph=graph, min_nodes=min_nodes, max_nodes=max_nodes,
                            max_indegree=max_indegree, weight_range=weight_range,
                            scale_range=scale_range))
    names = sorted(NONLINEARITIES)
    base.nonlinearities = {e: draw(hst.sampled_from(names)) for e in base.graph.edges}
    return base


@hst.composite
def interventions(draw, scm_or_graph, max_targets: int = 2, values=None) -> dict[str, float]:
    """Hard interventions ``{node: value}`` on 1 to ``max_targets`` distinct nodes.

    Args:
        scm_or_graph: anything with a ``.graph`` (a :class:`RandomSCM`), or a graph.
        values: strategy for the values (default finite floats in ``[-3, 3]``).
    """
    graph = getattr(scm_or_graph, "graph", scm_or_graph)
    if not isinstance(graph, CausalGraph):
        raise CausalError(
            f"scm_or_graph must be a CausalGraph or have .graph, got {type(graph).__name__}"
        )
    if max_targets < 1:
        raise CausalError(f"max_targets must be >= 1, got {max_targets}")
    if values is None:
        values = hst.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
    targets = draw(hst.lists(hst.sampled_from(graph.nodes), min_size=1,
                             max_size=min(max_targets, len(graph)), unique=True))
    return {t: draw(values) for t in targets}


@hst.composite
def invertible_linear_mixings(draw, dim=3, obs_dim=None, max_condition: float = 5.0):
    """Random ``[obs_dim, dim]`` mixing matrices with condition number ``<= max_condition``.

    ``dim`` and ``obs_dim`` (default ``dim``) may be ints or strategies.
    """
    d = draw(_as_strategy(dim))
    p = d if obs_dim is None else draw(_as_strategy(obs_dim))
    if p < d:
        raise CausalError(f"obs_dim ({p}) must be >= dim ({d}) for an invertible mixing")
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    return LinearMixing(random_well_conditioned(p, d, max_condition, gen), seed)


@hst.composite
def leaky_relu_mlp_mixings(draw, dim=3, layers=2, max_condition: float = 3.0,
                           negative_slope: float = 0.2) -> LeakyReluMLPMixing:
    """Random invertible leaky-ReLU MLPs ``R^dim -> R^dim`` (see :class:`LeakyReluMLPMixing`)."""
    d, n_layers = draw(_as_strategy(dim)), draw(_as_strategy(layers))
    if not 0 < negative_slope <= 1:
        raise CausalError(f"negative_slope must be in (0, 1], got {negative_slope}")
    seed = draw(seeds())
    gen = torch.Generator().manual_seed(seed)
    return LeakyReluMLPMixing.random(d, n_layers, max_condition=max_condition,
                                     negative_slope=negative_slope, generator=gen, seed=seed)


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
    """
    d = draw(_as_strategy(dim))
    m = draw(_as_strategy(n_segments)) if n_segments is not None else 2 * d + 1
    kind = draw(_as_strategy(mixing))
    return SegmentLatentModel.random(d, m, draw(seeds()), mixing=kind, layers=draw(_as_strategy(layers)),
                                     variance_range=variance_range, mean_range=mean_range,
                                     max_condition=max_condition, negative_slope=negative_slope)


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
    """
    d = draw(_as_strategy(dim))
    latent = draw(linear_scms("gaussian", graph=dags(d, d, max_indegree, prefix="z"),
                              weight_range=weight_range, scale_range=scale_range, intercepts=False))
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
