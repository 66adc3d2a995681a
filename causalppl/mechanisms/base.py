"""The mechanism base class: parents in, the site's distribution out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from pyro.nn import PyroModule

from ..errors import CausalError
from .bank import MechanismBank

__all__ = ["Mechanism", "as_inputs"]

_COUNTER = itertools.count()


def as_inputs(parents, in_features: int) -> torch.Tensor:
    """Parent values as one tensor ``[..., in_features]``.

    ``parents`` is a tensor whose last dim holds the parent features, or a list of
    per-parent values (numbers or tensors of one batch shape each, broadcast and stacked).
    """
    if parents is None or (isinstance(parents, (list, tuple)) and not parents):
        if in_features:
            raise CausalError(f"the mechanism takes {in_features} parent values, got none")
        return torch.zeros(0)
    if isinstance(parents, (list, tuple)):
        values = [
            torch.as_tensor(p, dtype=torch.get_default_dtype()) if not isinstance(p, torch.Tensor) else p
            for p in parents
        ]
        shape = torch.broadcast_shapes(*(v.shape for v in values))
        parents = torch.stack([v.expand(shape) for v in values], -1)
    if not isinstance(parents, torch.Tensor):
        raise CausalError(f"parents must be a tensor [..., {in_features}] or a list, got {type(parents).__name__}")
    if parents.dim() == 0 or parents.shape[-1] != in_features:
        raise CausalError(
            f"the mechanism takes {in_features} parent values in the last dim, got shape {tuple(parents.shape)}"
        )
    return parents


class Mechanism(PyroModule):
    """A node's mechanism: an MLP of the parents whose outputs parametrise the site's law.

    Calling the mechanism on parent values ``[..., in_features]`` (or a list) returns a
    Pyro distribution for the node, so a Pyro program uses it as
    ``pyro.sample("y", mech(torch.stack([x, h], -1)))`` and every causalppl handler and
    query applies unchanged (:func:`causalppl.noise.noise_model` reads the noise out).

    A mechanism owns its MLP, or is a view of net ``index`` of a shared
    :class:`MechanismBank` (how :class:`causalppl.scm.NeuralSCM` keeps one copy of the
    parameters for its per-node Pyro path and its stacked fast path).

    Args:
        in_features: how many parent values the mechanism reads.
        dim: ``None`` for a scalar node, ``d`` for a vector node (event shape ``(d,)``).
        hidden: hidden layer widths of the MLP.
        activation: ``"tanh" | "relu" | "silu"``.
        bank, index: share net ``index`` of ``bank`` instead of owning an MLP.
        name: the module's Pyro name (its parameters are ``{name}.bank.weight_0``, ...);
            unique by default.
    """

    kind = "?"
    scale_dims = 0  # additive mechanisms keep a raw noise scale per element in the bank

    def __init__(
        self,
        in_features: int,
        *,
        dim: int | None = None,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        bank: MechanismBank | None = None,
        index: int = 0,
        name: str | None = None,
    ):
        # A unique Pyro name, so two stand-alone mechanisms in one program never share
        # param-store entries; a parent PyroModule renames it when it is attached.
        super().__init__(name=name or f"{type(self).__name__}_{next(_COUNTER)}")
        if dim is not None and (not isinstance(dim, int) or dim < 1):
            raise CausalError(f"dim must be None (scalar node) or a positive int, got {dim!r}")
        self.in_features, self.dim, self.index = int(in_features), dim, int(index)
        self.elements = 1 if dim is None else dim
        if bank is None:
            self.bank = MechanismBank(
                [self.in_features], hidden, self.raw_width, activation, scale_dims=self.scale_dims * self.elements
            )
            self.index = 0
        else:
            if bank.fan_in[self.index] != self.in_features or bank.out_features < self.raw_width:
                raise CausalError("the shared bank's net does not fit this mechanism's sizes")
            # A view, not a submodule: the owner registers the bank exactly once.
            self.__dict__["_shared_bank"] = bank

    @property
    def net(self) -> MechanismBank:
        shared = self.__dict__.get("_shared_bank")
        return shared if shared is not None else self.bank

    @property
    def width(self) -> int:
        """Raw output columns per element."""
        raise NotImplementedError

    @property
    def raw_width(self) -> int:
        return self.width * self.elements

    def raw(self, parents) -> torch.Tensor:
        """Raw network outputs ``[..., raw_width]`` for parent values ``[..., in_features]``."""
        out = self.net.forward_one(self.index, as_inputs(parents, self.in_features))
        return out[..., : self.raw_width]

    def split(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw outputs viewed as ``[..., width]`` (scalar) or ``[..., d, width]`` (vector)."""
        if self.dim is None:
            return raw
        return raw.reshape(raw.shape[:-1] + (self.dim, self.width))

    def distribution(self, raw: torch.Tensor, loc=0.0, scale=1.0):
        """The site's law from raw outputs, in units ``loc + scale * (model units)``."""
        raise NotImplementedError

    def forward(self, parents=None):
        return self.distribution(self.raw(parents))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, dim={self.dim}"
