"""A NeuralSCM's batched paths: the queries' fast answers, from the stacked evaluation.

:class:`NeuralSCMPaths` implements :class:`causalppl.program.BatchedPaths` with
:mod:`causalppl.scm.fast`, so ``cp.sample``, ``cp.counterfactual``, ``cp.effect`` and
``cp.fit`` take the batched path by themselves; the Pyro program stays the reference
(``tests/scm/test_fast_paths.py`` checks that both give the same answers).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import CausalError
from ..mechanisms.heads import ADDITIVE, CATEGORICAL, FLOW, LOCATION_SCALE
from ..program import BatchedPaths
from . import fast

__all__ = ["NeuralSCMPaths"]

_NOISE_FORMS = {
    ADDITIVE: "LocScaleNoise",
    LOCATION_SCALE: "LocScaleNoise",
    FLOW: "Transformed(LocScaleNoise)",
    CATEGORICAL: "GumbelMax(categorical)",
}


class NeuralSCMPaths(BatchedPaths):
    """The batched paths of one :class:`~causalppl.NeuralSCM`.

    Example:
        >>> import causalppl as cp
        >>> scm = cp.NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
        >>> paths = scm.batched_paths()
        >>> values, flags = paths.push(paths.draw_noise(3), {"x": torch.tensor([0.0])})
        >>> values["x"].tolist(), sorted(flags)
        ([0.0, 0.0, 0.0], ['x'])
    """

    def __init__(self, scm):
        self.scm = scm
        self.deterministic_abduction = all(s.kind != CATEGORICAL for s in scm.specs.values())

    @property
    def names(self) -> list[str]:
        return self.scm.nodes

    def parents(self, name: str) -> list[str]:
        return self.scm.graph.parents(name)

    def prototype(self, name: str):
        return self.scm.prototype(name)

    def mechanisms(self) -> dict[str, str]:
        return {n: _NOISE_FORMS[self.scm.specs[n].kind] for n in self.names}

    def draw_noise(self, num: int) -> dict[str, torch.Tensor]:
        dtype, device = self.scm.feature_loc.dtype, self.scm.feature_loc.device
        out = {}
        for name in self.names:
            spec = self.scm.specs[name]
            if spec.kind == CATEGORICAL:
                u = torch.rand(num, spec.categories, dtype=dtype, device=device).clamp_min(torch.finfo(dtype).tiny)
                out[name] = -torch.log(-torch.log(u))  # Gumbel(0, 1)
            else:
                out[name] = torch.randn((num,) if spec.dim is None else (num, spec.dim), dtype=dtype, device=device)
        return out

    def push(self, noise, do):
        sizes = {k: (u.shape[0] if isinstance(u, torch.Tensor) and u.dim() else None) for k, u in noise.items()}
        known = [s for s in sizes.values() if s is not None]
        num = max(set(known), key=known.count) if known else None  # the size most nodes agree on
        for k, size in sizes.items():
            if size != num:
                raise CausalError(
                    f"noise for node {k!r} has shape {tuple(torch.as_tensor(noise[k]).shape)}; the "
                    f"other nodes' noise has {num} rows"
                )
        flags: dict = {}
        values = fast.sample(self.scm, num, do=do, noise=noise, flags=flags)
        return values, flags

    def counterfactual(self, values, do):
        flags: dict = {}
        cf = fast.counterfactual(self.scm, dict(values), do, flags=flags)
        return cf, flags

    def log_prob(self, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return fast.log_prob(self.scm, values)

    def prepare(self, values: Mapping[str, torch.Tensor]) -> None:
        scm = self.scm
        if scm.config["standardize"] and not bool(scm.standardized):
            scm.set_standardization(values)
