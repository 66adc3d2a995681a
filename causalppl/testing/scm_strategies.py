"""Hypothesis strategies for random causal graphs, SCMs and interventions (seeded explicitly).

Graph structure and discrete choices are drawn by hypothesis itself, so failures shrink
towards small, sparse graphs; every tensor comes from a ``torch.Generator`` seeded by a
drawn integer. :mod:`causalppl.testing.strategies` gathers these with the latent-variable
strategies of :mod:`causalppl.testing.latent_strategies`.
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
from ..noise.families import NOISE_FAMILIES
from .random_models import NONLINEARITIES, RandomSCM

__all__ = ["dags", "interventions", "linear_gaussian_scms", "linear_scms", "nonlinear_anms", "seeds"]


def seeds() -> SearchStrategy[int]:
    """Seeds for ``torch.Generator().manual_seed``.

    Example:
        >>> from hypothesis import find
        >>> find(seeds(), lambda s: s > 10)
        11
    """
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

    Example:
        >>> from hypothesis import find
        >>> find(dags(max_nodes=4), lambda g: len(g.edges) >= 2).edges
        [('x0', 'x2'), ('x1', 'x2')]
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
        parents[f"{prefix}{j}"] = sorted(chosen, key=lambda s: int(s[len(prefix) :]))
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

    Example:
        >>> from hypothesis import find
        >>> scm = find(linear_scms("laplace", min_nodes=3, max_nodes=3), lambda s: True)
        >>> scm.noise, len(scm.graph)
        ('laplace', 3)
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
    """Random linear-Gaussian SCMs (see :func:`linear_scms`); ``mean_cov`` gives their law.

    Example:
        >>> from hypothesis import find
        >>> find(linear_gaussian_scms(equal_variance=True), lambda s: True).noise
        'gaussian_equal'
    """
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

    Example:
        >>> from hypothesis import find
        >>> scm = find(nonlinear_anms(max_nodes=3), lambda s: len(s.graph.edges) == 1)
        >>> list(scm.nonlinearities) == scm.graph.edges
        True
    """
    base = draw(
        linear_scms(
            noise,
            graph=graph,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            max_indegree=max_indegree,
            weight_range=weight_range,
            scale_range=scale_range,
        )
    )
    names = sorted(NONLINEARITIES)
    base.nonlinearities = {e: draw(hst.sampled_from(names)) for e in base.graph.edges}
    return base


@hst.composite
def interventions(draw, scm_or_graph, max_targets: int = 2, values=None) -> dict[str, float]:
    """Hard interventions ``{node: value}`` on 1 to ``max_targets`` distinct nodes.

    Args:
        scm_or_graph: anything with a ``.graph`` (a :class:`RandomSCM`), or a graph.
        values: strategy for the values (default finite floats in ``[-3, 3]``).

    Example:
        >>> from hypothesis import find
        >>> sorted(find(interventions(CausalGraph({"a": [], "b": ["a"]})), lambda d: len(d) == 2))
        ['a', 'b']
    """
    graph = getattr(scm_or_graph, "graph", scm_or_graph)
    if not isinstance(graph, CausalGraph):
        raise CausalError(f"scm_or_graph must be a CausalGraph or have .graph, got {type(graph).__name__}")
    if max_targets < 1:
        raise CausalError(f"max_targets must be >= 1, got {max_targets}")
    if values is None:
        values = hst.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
    targets = draw(
        hst.lists(hst.sampled_from(graph.nodes), min_size=1, max_size=min(max_targets, len(graph)), unique=True)
    )
    return {t: draw(values) for t in targets}
