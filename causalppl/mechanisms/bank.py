"""A bank of ``M`` small MLPs stored as stacked tensors: one batched op evaluates them all.

Layout (shared with :mod:`causalppl.kernels`): net ``m`` reads ``P`` padded input slots of
which the first ``in_features[m]`` are real; layer ``l`` has weight ``[M, in_l, out_l]``
and bias ``[M, out_l]`` with ``in_0 = P``; the activation follows every hidden layer.
A single net is evaluated on its own slice (:meth:`MechanismBank.forward_one`, the Pyro
path) and all of them at once with ``bmm`` (:meth:`MechanismBank.forward_stacked`, the
fast path); both read the same parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pyro.nn import PyroModule

from causalppl.kernels.activations import ACTIVATIONS, activation_fn
from causalppl.kernels.mechanism.reference import stacked_mlp

from ..errors import CausalError

__all__ = ["ACTIVATIONS", "MechanismBank", "activation_fn"]


class MechanismBank(PyroModule):
    """``M`` MLPs with the same hidden sizes, parameters stacked along a leading net dim.

    Args:
        in_features: real input width of each net (its length is ``M``).
        hidden: hidden layer widths (``()`` gives affine nets).
        out_features: output width of every net.
        activation: ``"tanh" | "relu" | "silu"`` after each hidden layer.
        scale_dims: when > 0, also hold a per-net raw noise scale ``[M, scale_dims]``
            (additive-noise mechanisms).

    Example:
        >>> bank = MechanismBank([2, 0, 1], hidden=(8,), out_features=1)
        >>> x = torch.randn(5, 2)
        >>> one = bank.forward_one(0, x)
        >>> inputs = torch.zeros(3, 5, 2); inputs[0] = x
        >>> bool(torch.allclose(bank.forward_stacked(inputs)[0], one))
        True
    """

    def __init__(
        self,
        in_features: Sequence[int],
        hidden: Sequence[int] = (64, 64),
        out_features: int = 1,
        activation: str = "tanh",
        scale_dims: int = 0,
    ):
        super().__init__()
        self.fan_in = [int(p) for p in in_features]
        if not self.fan_in or min(self.fan_in) < 0:
            raise CausalError(f"in_features must be a non-empty list of sizes >= 0, got {in_features}")
        hidden = tuple(int(h) for h in hidden)
        if any(h < 1 for h in hidden):
            raise CausalError(f"hidden sizes must be positive ints, got {hidden}")
        self.hidden, self.out_features, self.activation = hidden, int(out_features), activation
        self._act = activation_fn(activation)
        self.num_nets = len(self.fan_in)
        self.num_inputs = max(1, max(self.fan_in))
        sizes = [self.num_inputs, *hidden, self.out_features]
        self.num_layers = len(sizes) - 1
        for layer in range(self.num_layers):
            weight = torch.empty(self.num_nets, sizes[layer], sizes[layer + 1])
            bias = torch.empty(self.num_nets, sizes[layer + 1])
            for m in range(self.num_nets):
                fan = self.fan_in[m] if layer == 0 else sizes[layer]
                bound = 1.0 / math.sqrt(max(fan, 1))  # torch.nn.Linear's default init
                weight[m].uniform_(-bound, bound)
                bias[m].uniform_(-bound, bound)
                if layer == 0:
                    weight[m, self.fan_in[m] :] = 0.0  # padding slots never matter; keep them 0
            setattr(self, f"weight_{layer}", torch.nn.Parameter(weight))
            setattr(self, f"bias_{layer}", torch.nn.Parameter(bias))
        self.scale_dims = int(scale_dims)
        if self.scale_dims:
            # softplus(0.5413) ~= 1: unit noise scale at init (data are standardised).
            self.raw_scale = torch.nn.Parameter(torch.full((self.num_nets, self.scale_dims), 0.5413))

    def weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"weight_{layer}") for layer in range(self.num_layers)]

    def biases(self) -> list[torch.Tensor]:
        return [getattr(self, f"bias_{layer}") for layer in range(self.num_layers)]

    def forward_one(self, m: int, x: torch.Tensor) -> torch.Tensor:
        """Net ``m`` on inputs ``[..., in_features[m]]`` -> ``[..., out_features]``."""
        p = self.fan_in[m]
        if x.shape[-1] != p:
            raise CausalError(f"net {m} takes {p} inputs, got a tensor of shape {tuple(x.shape)}")
        h = x
        for layer, (w, b) in enumerate(zip(self.weights(), self.biases())):
            h = h @ (w[m, :p] if layer == 0 else w[m]) + b[m]
            if layer < self.num_layers - 1:
                h = self._act(h)
        return h

    def forward_stacked(self, inputs: torch.Tensor, nets: torch.Tensor | None = None) -> torch.Tensor:
        """Nets ``nets`` (all by default) on node-major inputs ``[M', B, P]`` -> ``[M', B, out]``.

        Padded input slots must already be zero (callers multiply by the parent mask).
        """
        weights, biases = self.weights(), self.biases()
        if nets is not None:
            weights = [w.index_select(0, nets) for w in weights]
            biases = [b.index_select(0, nets) for b in biases]
        return stacked_mlp(inputs, weights, biases, self.activation)
