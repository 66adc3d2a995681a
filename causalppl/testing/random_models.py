"""Random ground-truth SCMs as plain Pyro programs, with their parameters and analytic laws.

The strategies in :mod:`causalppl.testing.strategies` build these objects; they are
public so that tests can also build one from a fixed seed without hypothesis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyro
import torch
import torch.nn.functional as F

from ..errors import CausalError, UnknownSiteError
from ..graph import CausalGraph
from ..noise.families import noise_distribution, standard_noise

__all__ = ["NONLINEARITIES", "RandomSCM"]

# Bounded-growth nonlinearities: chains of them stay O(1), so samples never overflow.
NONLINEARITIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "softplus": lambda v: F.softplus(v) - math.log(2.0),
    "gauss": lambda v: torch.exp(-(v**2)),
}


@dataclass
class RandomSCM:
    """A random SCM over scalar nodes: ``x_j = intercept_j + f_j(pa_j) + sd_j · U_j``.

    ``f_j`` is linear (``Σ w_ij x_i``) or, when ``nonlinearities`` names a function per
    edge, ``Σ w_ij g_ij(x_i)``. :meth:`model` is a plain Pyro program for ONE unit with
    one ``pyro.sample(node, ...)`` per node whose distribution carries the noise, so
    causalppl's handlers read the noise from it.

    Attributes:
        graph: the causal DAG (node names ``"x0"``, ``"x1"``, ...).
        weights: ``{(parent, child): w}``.
        intercepts: ``{node: b}``.
        scales: ``{node: noise standard deviation}``.
        noise: the noise family, one of :data:`~causalppl.noise.families.NOISE_FAMILIES`.
        nonlinearities: ``{(parent, child): name in NONLINEARITIES}`` (empty when linear).
        seed: the seed the parameters were drawn from.

    Example:
        >>> import causalppl as cp
        >>> scm = RandomSCM(cp.CausalGraph({"x0": [], "x1": ["x0"]}), {("x0", "x1"): 2.0},
        ...                 {"x0": 0.0, "x1": 1.0}, {"x0": 1.0, "x1": 0.5})
        >>> cp.graph(scm.model).edges
        [('x0', 'x1')]
        >>> mean, cov = scm.mean_cov(do={"x0": 1.0})
        >>> mean.tolist(), cov.tolist()
        ([1.0, 3.0], [[0.0, 0.0], [0.0, 0.25]])
    """

    graph: CausalGraph
    weights: dict[tuple[str, str], float]
    intercepts: dict[str, float]
    scales: dict[str, float]
    noise: str = "gaussian"
    nonlinearities: dict[tuple[str, str], str] = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self):
        noise_distribution(self.noise, 0.0, 1.0)  # validates the family name
        for p, c in self.weights:
            if (p, c) not in set(self.graph.edges):
                raise CausalError(f"weight given for ({p!r}, {c!r}), which is not an edge")

    @property
    def linear(self) -> bool:
        """Whether every mechanism is linear (no nonlinearities drawn)."""
        return not self.nonlinearities

    @property
    def params(self) -> dict:
        """Every parameter in one dict (for reports and hypothesis's failure output)."""
        return {
            "weights": dict(self.weights),
            "intercepts": dict(self.intercepts),
            "scales": dict(self.scales),
            "noise": self.noise,
            "nonlinearities": dict(self.nonlinearities),
            "seed": self.seed,
        }

    def mechanism(self, node: str, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The location ``intercept + f(pa)`` of ``node`` given its parents' values."""
        loc = torch.as_tensor(self.intercepts.get(node, 0.0), dtype=torch.get_default_dtype())
        for p in self.graph.parents(node):
            g = NONLINEARITIES[self.nonlinearities[(p, node)]] if self.nonlinearities else None
            term = values[p] if g is None else g(values[p])
            loc = loc + self.weights[(p, node)] * term
        return loc

    def model(self) -> dict[str, torch.Tensor]:
        """The SCM as a Pyro program for one unit; returns every node's value."""
        values: dict[str, torch.Tensor] = {}
        for node in self.graph.nodes:
            loc = self.mechanism(node, values)
            values[node] = pyro.sample(node, noise_distribution(self.noise, loc, self.scales[node]))
        return values

    def mean_cov(self, do: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Analytic mean vector and covariance of the (intervened) joint, in ``graph.nodes`` order.

        Exact for any noise family of a linear SCM (the moments only need the noise
        variances); raises for nonlinear mechanisms. Interventions are hard, with constant
        values: intervened nodes get their value as mean and zero variance.
        """
        if not self.linear:
            raise CausalError("mean_cov needs a linear SCM; this one has nonlinear mechanisms")
        nodes = self.graph.nodes
        do = dict(do or {})
        unknown = set(do) - set(nodes)
        if unknown:
            raise UnknownSiteError.naming(unknown, nodes, role="intervention")
        index = {n: i for i, n in enumerate(nodes)}
        d = len(nodes)
        w = np.zeros((d, d))  # w[j, i]: weight of i -> j, so x = w x + c + noise
        c = np.array([float(self.intercepts.get(n, 0.0)) for n in nodes])
        var = np.array([float(self.scales[n]) ** 2 for n in nodes])
        for (p, ch), wt in self.weights.items():
            w[index[ch], index[p]] = wt
        for n, v in do.items():
            if callable(v):
                raise CausalError(f"mean_cov supports constant interventions; {n!r} got a callable")
            value = torch.as_tensor(v, dtype=torch.float64)
            if value.numel() != 1:
                raise CausalError(f"mean_cov needs a scalar for {n!r}, got {tuple(value.shape)}")
            j = index[n]
            w[j] = 0.0
            c[j] = float(value)
            var[j] = 0.0
        m = np.linalg.inv(np.eye(d) - w)
        return m @ c, (m * var) @ m.T

    def sample(self, num_samples: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """Ancestral samples drawn with torch directly (a reference path beside ``cp.sample``)."""
        gen = torch.Generator().manual_seed(seed)
        values: dict[str, torch.Tensor] = {}
        dtype = torch.get_default_dtype()
        for node in self.graph.nodes:
            loc = self.mechanism(node, values) * torch.ones(num_samples, dtype=dtype)
            values[node] = loc + self.scales[node] * standard_noise(self.noise, num_samples, gen)
        return values

    def data_matrix(self, num_samples: int, seed: int = 0) -> torch.Tensor:
        """Samples stacked as ``[num_samples, d]`` in ``graph.nodes`` order."""
        values = self.sample(num_samples, seed)
        return torch.stack([values[n] for n in self.graph.nodes], -1)
