"""Mixing functions and latent-variable ground truths for identifiability tests.

* :class:`LinearMixing`, :class:`LeakyReluMLPMixing`: invertible maps latent -> observed,
  with a bounded condition number so that recovery is a question of identifiability, not
  of numerics.
* :class:`SegmentLatentModel`: iVAE-style data (Khemakhem et al. 2020): a segment label
  ``u`` sets the variances (and optionally means) of independent Gaussian latents.
* :class:`InterventionalContexts`: a linear-Gaussian latent SCM seen through a linear
  mixing in one observational and one hard-intervention context per latent (Squires et
  al. 2023).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F

from ..errors import CausalError
from ..graph import CausalGraph
from ..linalg import random_well_conditioned
from .random_models import RandomSCM

__all__ = ["InterventionalContexts", "LeakyReluMLPMixing", "LinearMixing", "SegmentLatentModel"]


@dataclass
class LinearMixing:
    """``x = z @ matrix.T`` with ``matrix`` ``[obs_dim, dim]`` of full column rank.

    Example:
        >>> mix = LinearMixing(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
        >>> z = torch.tensor([[1.0, -1.0]])
        >>> mix(z).tolist(), mix.inverse(mix(z)).round(decimals=6).tolist()
        ([[1.0, 0.0, -2.0]], [[1.0, -1.0]])
    """

    matrix: torch.Tensor
    seed: int | None = None

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.matrix.T

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The latents of observations ``x`` (least squares when ``obs_dim > dim``)."""
        return x @ torch.linalg.pinv(self.matrix).T

    @property
    def condition_number(self) -> float:
        """The 2-norm condition number of the mixing matrix."""
        return float(torch.linalg.cond(self.matrix))


@dataclass
class LeakyReluMLPMixing:
    """An invertible MLP: square well-conditioned layers, leaky ReLU between them.

    ``h_{k+1} = leaky_relu(h_k W_k^T + b_k)`` for all but the last layer, which is affine.
    Each ``W_k`` has condition number at most the strategy's bound, so the Jacobian's
    condition number is at most ``bound**layers / negative_slope**(layers - 1)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> mix = LeakyReluMLPMixing.random(2, 3, max_condition=3.0, generator=g)
        >>> z = torch.randn(5, 2, generator=g, dtype=torch.float64)
        >>> bool(torch.allclose(mix.inverse(mix(z)), z))
        True
    """

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    negative_slope: float = 0.2
    seed: int | None = None

    @classmethod
    def random(
        cls,
        dim: int,
        layers: int,
        *,
        max_condition: float = 3.0,
        negative_slope: float = 0.2,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> LeakyReluMLPMixing:
        """``layers`` random layers, each of condition number at most ``max_condition``."""
        if layers < 1:
            raise CausalError(f"layers must be >= 1, got {layers}")
        weights, biases = [], []
        for _ in range(layers):
            weights.append(random_well_conditioned(dim, dim, max_condition, generator))
            biases.append(0.5 * torch.randn(dim, generator=generator, dtype=weights[0].dtype))
        return cls(weights, biases, negative_slope, seed)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if k < len(self.weights) - 1:
                h = F.leaky_relu(h, self.negative_slope)
        return h

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The latents of observations ``x``, layer by layer."""
        h = x
        for k in reversed(range(len(self.weights))):
            if k < len(self.weights) - 1:
                h = torch.where(h >= 0, h, h / self.negative_slope)
            h = torch.linalg.solve(self.weights[k], (h - self.biases[k]).T).T
        return h


@dataclass
class SegmentLatentModel:
    """iVAE ground truth: ``z | u ~ N(means[u], diag(variances[u]))``, ``x = mixing(z)``.

    Attributes:
        means, variances: ``[n_segments, dim]`` per-segment latent parameters.
        mixing: an invertible map latent -> observed.

    Example:
        >>> x, z, u = SegmentLatentModel.random(2, 3, seed=0).sample(10)
        >>> tuple(x.shape), u.tolist()[::10]
        ((30, 2), [0, 1, 2])
    """

    means: torch.Tensor
    variances: torch.Tensor
    mixing: LinearMixing | LeakyReluMLPMixing
    seed: int | None = None

    @classmethod
    def random(
        cls,
        dim: int,
        n_segments: int,
        seed: int,
        *,
        mixing: str = "mlp",
        layers: int = 2,
        variance_range: tuple[float, float] = (0.1, 4.0),
        mean_range: float = 0.0,
        max_condition: float = 3.0,
        negative_slope: float = 0.5,
    ) -> SegmentLatentModel:
        """A random instance drawn from one seed (see :func:`~causalppl.testing.strategies.segment_latent_models`).

        Example:
            >>> m = SegmentLatentModel.random(2, 5, seed=0)
            >>> m.variances.shape, type(m.mixing).__name__
            (torch.Size([5, 2]), 'LeakyReluMLPMixing')
        """
        gen = torch.Generator().manual_seed(seed)
        if mixing == "mlp":
            mix = LeakyReluMLPMixing.random(
                dim, layers, max_condition=max_condition, negative_slope=negative_slope, generator=gen, seed=seed
            )
        elif mixing == "linear":
            mix = LinearMixing(random_well_conditioned(dim, dim, max_condition, gen), seed)
        else:
            raise CausalError(f"mixing must be 'mlp' or 'linear', got {mixing!r}")
        lo, hi = math.log(variance_range[0]), math.log(variance_range[1])
        variances = torch.exp(lo + (hi - lo) * torch.rand(n_segments, dim, generator=gen, dtype=torch.float64))
        means = torch.zeros(n_segments, dim, dtype=torch.float64)
        if mean_range > 0:
            means = mean_range * (2 * torch.rand(n_segments, dim, generator=gen, dtype=torch.float64) - 1)
        dtype = torch.get_default_dtype()
        return cls(means.to(dtype), variances.to(dtype), mix, seed)

    @property
    def dim(self) -> int:
        """The number of latents."""
        return self.means.shape[1]

    @property
    def n_segments(self) -> int:
        """The number of segment labels."""
        return self.means.shape[0]

    def model(self, u: torch.Tensor) -> torch.Tensor:
        """Pyro program for one unit of segment ``u``: latent sites ``z0..``, observed ``x``."""
        u = torch.as_tensor(u)
        zs = [pyro.sample(f"z{i}", dist.Normal(self.means[u, i], self.variances[u, i].sqrt())) for i in range(self.dim)]
        return pyro.deterministic("x", self.mixing(torch.stack(zs, -1)), event_dim=1)

    def sample(self, n_per_segment: int, seed: int = 0):
        """``(x, z, u)``: ``n_per_segment`` rows per segment, segments in blocks."""
        gen = torch.Generator().manual_seed(seed)
        u = torch.arange(self.n_segments).repeat_interleave(n_per_segment)
        eps = torch.randn(u.numel(), self.dim, generator=gen, dtype=self.means.dtype)
        z = self.means[u] + self.variances[u].sqrt() * eps
        return self.mixing(z), z, u


@dataclass
class InterventionalContexts:
    """Linear latent SCM, linear mixing, one hard intervention per (listed) latent.

    Context 0 is observational; context ``k >= 1`` replaces the equation of latent
    ``targets[k - 1]`` by ``z ~ N(0, intervention_scales[k - 1]²)`` (no parents).

    Attributes:
        latent: the latent SCM (linear-Gaussian, zero intercepts, nodes ``"z0"..``).
        mixing: ``[obs_dim, dim]`` matrix ``G``; ``x = G z``.
        targets: the latent node intervened in each non-observational context.
        intervention_scales: noise sd of the intervened latent in that context.

    Example:
        >>> from hypothesis import find
        >>> from causalppl.testing import strategies as st
        >>> ic = find(st.interventional_contexts(dim=2), lambda ic: True)
        >>> xs, zs = ic.sample(100)
        >>> ic.n_contexts, len(xs), tuple(xs[0].shape)
        (3, 3, (100, 2))
    """

    latent: RandomSCM
    mixing: torch.Tensor
    targets: list[str]
    intervention_scales: list[float]
    seed: int | None = None

    @property
    def n_contexts(self) -> int:
        """The observational context plus one per intervention."""
        return 1 + len(self.targets)

    def context_scm(self, context: int) -> RandomSCM:
        """The latent SCM in ``context`` (a hard intervention cuts the target's parents)."""
        if not 0 <= context < self.n_contexts:
            raise CausalError(f"context must be in [0, {self.n_contexts}), got {context}")
        if context == 0:
            return self.latent
        t = self.targets[context - 1]
        graph = self.latent.graph
        parents = {n: ([] if n == t else graph.parents(n)) for n in graph.nodes}
        weights = {e: w for e, w in self.latent.weights.items() if e[1] != t}
        scales = dict(self.latent.scales, **{t: self.intervention_scales[context - 1]})
        return RandomSCM(
            CausalGraph(parents),
            weights,
            dict(self.latent.intercepts),
            scales,
            self.latent.noise,
            seed=self.latent.seed,
        )

    def model(self, context: int = 0) -> torch.Tensor:
        """Pyro program for one unit in ``context``: latent sites, then ``x = G z``."""
        values = self.context_scm(context).model()
        z = torch.stack([values[n] for n in self.latent.graph.nodes], -1)
        return pyro.deterministic("x", z @ self.mixing.T, event_dim=1)

    def sample(self, n_per_context: int, seed: int = 0) -> tuple[list, list]:
        """``(xs, zs)``: one ``[n, obs_dim]`` / ``[n, dim]`` block per context; the columns
        of every ``z`` block follow ``latent.graph.nodes``."""
        xs, zs = [], []
        nodes = self.latent.graph.nodes  # one column order for every context
        for k in range(self.n_contexts):
            values = self.context_scm(k).sample(n_per_context, seed=seed * 1009 + k)
            z = torch.stack([values[n] for n in nodes], -1)
            xs.append(z @ self.mixing.T)
            zs.append(z)
        return xs, zs
