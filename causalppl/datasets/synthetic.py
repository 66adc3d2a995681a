"""Procedural SCMs with known mechanisms: exact interventional and counterfactual truth.

A :class:`KnownSCM` holds every node's structural equation ``x_j = f_j(pa_j, u_j)`` and
its inverse in ``u_j``, so it samples (observational or under ``do``), recovers a unit's
noise, and computes true counterfactuals and average effects to compare fitted models to
(the reference path). Its :meth:`~KnownSCM.model` is the same SCM as a Pyro program, so the
queries (``cp.sample``, ``cp.counterfactual``, ``cp.effect``) answer on the truth through
the same calls as on a fitted model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyro
import pyro.distributions as dist
import torch
from torch.distributions import constraints
from torch.distributions.transforms import Transform

from ..errors import CausalError
from ..graph import CausalGraph

__all__ = ["EquationTransform", "KnownSCM", "multiplicative_noise", "nonlinear_anm", "tanh_anm"]

Equation = Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]


class EquationTransform(Transform):
    """A node's structural equation ``x = f(parents, u)`` as a bijective map of its noise ``u``.

    The parents' values are fixed when the transform is built (one per call of the
    program); ``g`` inverts ``f`` in ``u``. ``log |dx/du|`` is ``f``'s derivative in ``u``,
    taken elementwise by differentiating ``f`` in ``u``.

    Example:
        >>> t = EquationTransform(lambda v, u: v["a"] * u, lambda v, x: x / v["a"], {"a": torch.tensor(2.0)})
        >>> u = torch.tensor(1.5)
        >>> float(t(u)), float(t.inv(t(u))), round(float(t.log_abs_det_jacobian(u, t(u)).exp()), 6)
        (3.0, 1.5, 2.0)
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, equation: Equation, inverse: Equation, parents: Mapping[str, torch.Tensor], cache_size=0):
        super().__init__(cache_size=cache_size)
        self.equation, self.inverse, self.parents = equation, inverse, dict(parents)

    def with_cache(self, cache_size=1):
        """The same transform caching its last ``cache_size`` call(s) (as torch's transforms)."""
        return EquationTransform(self.equation, self.inverse, self.parents, cache_size=cache_size)

    def _call(self, u):
        return self.equation(self.parents, u)

    def _inverse(self, x):
        return self.inverse(self.parents, x)

    def log_abs_det_jacobian(self, u, x):
        with torch.enable_grad():  # f acts elementwise in u: the gradient of the sum is the slope
            v = u if u.requires_grad else u.detach().requires_grad_(True)
            (slope,) = torch.autograd.grad(self.equation(self.parents, v).sum(), v, create_graph=True)
        return slope.abs().log()


class KnownSCM:
    """Ground truth: ``x_j = equations[j](parents, u_j)``, ``u_j ~ Normal(0, 1)`` i.i.d.

    Args:
        graph: the causal graph.
        equations: ``{node: f(values, u)}``; ``values`` holds (at least) the parents, and
            ``f`` is strictly monotone in ``u``.
        inverses: ``{node: g(values, x)}`` with ``g(values, f(values, u)) = u``.

    Example:
        >>> import causalppl as cp
        >>> truth = nonlinear_anm()
        >>> cp.graph(truth.model).edges
        [('x', 'h'), ('x', 'y'), ('h', 'y')]
    """

    def __init__(self, graph: CausalGraph, equations: Mapping[str, Equation], inverses: Mapping[str, Equation]):
        if not isinstance(graph, CausalGraph):
            raise CausalError(f"graph must be a CausalGraph, got {type(graph).__name__}")
        for role, table in (("equations", equations), ("inverses", inverses)):
            missing = [v for v in graph.nodes if v not in table or not callable(table[v])]
            if missing:
                raise CausalError(f"{role} has no callable for nodes {missing}; nodes: {graph.nodes}")
        self.graph, self.equations, self.inverses = graph, dict(equations), dict(inverses)

    @property
    def nodes(self) -> list[str]:
        """The nodes in topological order."""
        return self.graph.nodes

    def model(self) -> dict[str, torch.Tensor]:
        """The SCM as a Pyro program for one unit; returns every node's value.

        Node ``j`` is ``pyro.sample(j, TransformedDistribution(Normal(0, 1), [T_j]))`` with
        ``T_j`` the :class:`EquationTransform` of its equation given its parents' values, so
        the queries recover each noise exactly (``T_j⁻¹``) and push it through ``f_j``.

        Example:
            >>> import causalppl as cp
            >>> truth = multiplicative_noise()
            >>> cf = cp.counterfactual(truth.model, {"x": 2.0, "y": 3.0}, {"x": -1.0}, num_samples=1)
            >>> cf.attrs["abduction"], cf.y.sel(world="counterfactual").item()  # y = x u, u = 1.5
            ('exact', -1.5)
        """
        values: dict[str, torch.Tensor] = {}
        for v in self.nodes:
            parents = {p: values[p] for p in self.graph.parents(v)}
            like = torch.zeros((), dtype=torch.get_default_dtype())
            for t in parents.values():
                like = like + torch.zeros_like(t)  # the parents' batch shape and dtype
            law = dist.TransformedDistribution(
                dist.Normal(like, 1.0), [EquationTransform(self.equations[v], self.inverses[v], parents)]
            )
            values[v] = pyro.sample(v, law)
        return values

    def push(self, noise: Mapping[str, torch.Tensor], do: Mapping[str, object] | None = None) -> dict:
        """Values from given noise ``{node: [n]}``, with hard interventions ``do``."""
        do = dict(do or {})
        unknown = set(do) - set(self.nodes)
        if unknown:
            raise CausalError(f"do names {sorted(unknown)} that are not nodes; nodes: {self.nodes}")
        out: dict[str, torch.Tensor] = {}
        for v in self.nodes:
            value = self.equations[v](out, noise[v])
            if v in do:
                value = torch.as_tensor(do[v], dtype=value.dtype).expand(value.shape).clone()
            out[v] = value
        return out

    def noise(self, num_samples: int, seed: int | None = 0) -> dict[str, torch.Tensor]:
        """``{node: [num_samples]}`` standard normal noise (``seed=None``: fresh)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return {v: torch.randn(num_samples, generator=gen, dtype=torch.float64) for v in self.nodes}

    def sample(self, num_samples: int, seed: int | None = 0, do: Mapping[str, object] | None = None) -> dict:
        """``{node: [num_samples]}`` float64 draws (observational, or under ``do``)."""
        return self.push(self.noise(num_samples, seed), do)

    def abduct(self, values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every node's noise recovered from fully observed values."""
        return {v: self.inverses[v](values, torch.as_tensor(values[v], dtype=torch.float64)) for v in self.nodes}

    def counterfactual(self, values: Mapping[str, torch.Tensor], do: Mapping[str, object]) -> dict:
        """The true counterfactual world of fully observed units under ``do``."""
        values = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}
        return self.push(self.abduct(values), do)

    def effect(
        self,
        outcome: str,
        do: Mapping[str, object],
        baseline: Mapping[str, object] | None = None,
        num_samples: int = 200_000,
        seed: int = 0,
    ) -> float:
        """``E[outcome | do] - E[outcome | baseline]`` by Monte Carlo with shared noise."""
        noise = self.noise(num_samples, seed)
        return float((self.push(noise, do)[outcome] - self.push(noise, baseline or {})[outcome]).mean())


def nonlinear_anm() -> KnownSCM:
    """A three-node nonlinear additive-noise model (x -> h -> y, x -> y).

    The noise on ``h`` is wide enough that ``do(h)`` at moderate values stays inside the
    observed support for most ``x`` (positivity), so effects of ``h`` are learnable.

    ``x = U_x``; ``h = 1.5 tanh(1.5 x) + 0.8 U_h``; ``y = 1.5 sin(1.2 h) + 0.4 x^2 + 0.3 U_y``.

    Example:
        >>> truth = nonlinear_anm()
        >>> round(truth.effect("y", {"h": 1.0}, {"h": -1.0}), 4)   # 3 sin(1.2), exactly
        2.7961
    """
    graph = CausalGraph({"x": [], "h": ["x"], "y": ["x", "h"]})
    fy = lambda v: 1.5 * torch.sin(1.2 * v["h"]) + 0.4 * v["x"] ** 2  # noqa: E731
    return KnownSCM(
        graph,
        {
            "x": lambda v, u: u,
            "h": lambda v, u: 1.5 * torch.tanh(1.5 * v["x"]) + 0.8 * u,
            "y": lambda v, u: fy(v) + 0.3 * u,
        },
        {
            "x": lambda v, x: x,
            "h": lambda v, x: (x - 1.5 * torch.tanh(1.5 * v["x"])) / 0.8,
            "y": lambda v, x: (x - fy(v)) / 0.3,
        },
    )


def multiplicative_noise() -> KnownSCM:
    """``x = U_x``, ``y = x * U_y``: noise that is not additive (its scale depends on x).

    Example:
        >>> truth = multiplicative_noise()
        >>> s = truth.sample(4, seed=0)
        >>> bool(torch.allclose(truth.abduct(s)["y"] * s["x"], s["y"]))
        True
    """
    graph = CausalGraph({"x": [], "y": ["x"]})
    return KnownSCM(
        graph, {"x": lambda v, u: u, "y": lambda v, u: v["x"] * u}, {"x": lambda v, x: x, "y": lambda v, x: x / v["x"]}
    )


def tanh_anm(num_nodes: int = 20, *, max_parents: int = 3, edge_prob: float = 0.3, seed: int = 0) -> KnownSCM:
    """A random nonlinear additive SCM with tanh mechanisms and Gaussian noise.

    Nodes ``x0 .. x{n-1}`` in topological order; each earlier node is a parent with
    probability ``edge_prob`` (at most ``max_parents``, the latest kept);
    ``x_j = a_j tanh(sum_i w_ij x_i + b_j) + s_j U_j`` with ``|w_ij| ~ U(0.5, 1.5)`` (random
    sign), ``a_j ~ U(1, 2)``, ``b_j ~ U(-0.5, 0.5)``, ``s_j ~ U(0.2, 0.5)``; a root is
    ``s_j U_j`` with ``s_j ~ U(0.5, 1.5)``.

    Example:
        >>> truth = tanh_anm(5, seed=1)
        >>> len(truth.nodes), all(len(truth.graph.parents(v)) <= 3 for v in truth.nodes)
        (5, True)
    """
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.rand(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    names = [f"x{j}" for j in range(num_nodes)]
    parents, equations, inverses = {}, {}, {}
    for j, v in enumerate(names):
        chosen = [names[i] for i in range(j) if float(rand(())) < edge_prob][-max_parents:]
        parents[v] = chosen
        w = (0.5 + rand(len(chosen))) * torch.where(rand(len(chosen)) < 0.5, -1.0, 1.0)
        a, b, s = 1 + float(rand(())), float(rand(())) - 0.5, float(rand(()))
        s = 0.5 + s if not chosen else 0.2 + 0.3 * s  # roots: sd in (0.5, 1.5)
        equations[v], inverses[v] = _tanh_node(chosen, w, a, b, s)
    return KnownSCM(CausalGraph(parents), equations, inverses)


def _tanh_node(parents, w, a, b, s):
    def mean(values):
        if not parents:
            return 0.0
        z = sum(float(wi) * values[p] for wi, p in zip(w, parents))
        return a * torch.tanh(z + b)

    return (lambda v, u: mean(v) + s * u), (lambda v, x: (x - mean(v)) / s)
