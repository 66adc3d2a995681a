"""Stacked per-node mechanisms: batched evaluation, abduction, log-density and sampling.

The layout is described in :mod:`causalppl.kernels.mechanism.reference`. Both functions
check their arguments (bad input raises :class:`~causalppl.errors.CausalError` naming the
argument), then dispatch on :func:`causalppl.kernels.backend`: ``torch`` runs the
reference; ``interpret`` runs the Triton kernels through the interpreter; ``triton`` runs
them on CUDA tensors (CPU tensors go through the reference). The Triton path computes in
fp32 and returns the input's dtype; networks outside :func:`kernel_supports` run the
reference on every backend.

Example:
    >>> import torch
    >>> x = torch.tensor([[0.5, 1.0]])
    >>> pidx, pmask = torch.tensor([[0], [0]]), torch.tensor([[0.0], [1.0]])
    >>> w = [torch.ones(2, 1, 3), torch.ones(2, 3, 1)]
    >>> b = [torch.zeros(2, 3), torch.zeros(2, 1)]
    >>> loc, s, u, lp = mechanism_forward(x, pidx, pmask, w, b, "relu", scale=torch.ones(2))
    >>> u.tolist()
    [[0.5, -0.5]]
    >>> mechanism_sample(u, pidx, pmask, w, b, "relu", torch.tensor([0, 1]),
    ...                  scale=torch.ones(2)).tolist()
    [[0.5, 1.0]]
"""

from __future__ import annotations

import torch

from causalppl.errors import CausalError

from .. import _backend
from .._checks import check_activation, check_float, check_layers
from . import reference
from .reference import scale_transform

__all__ = ["kernel_supports", "mechanism_forward", "mechanism_sample", "scale_transform", "topological_levels"]

# The shapes the Triton kernels take (beyond them the batched torch path runs): hidden
# layers whose register tiles fit an sm_90 SM without spilling (NOTES.md, kernels.aot).
KERNEL_MAX_WIDTH = {0: 2, 1: 256, 2: 64}


def kernel_supports(weights) -> bool:
    """Whether the Triton kernels take a network of these layer shapes.

    Up to 2 hidden layers: one of width <= 256, or two of width <= 64. Larger networks are
    compute-bound batched GEMMs, which the torch path (``bmm``) already runs well.

    Example:
        >>> kernel_supports([torch.zeros(3, 2, 64), torch.zeros(3, 64, 64), torch.zeros(3, 64, 1)])
        True
        >>> kernel_supports([torch.zeros(3, 2, 128), torch.zeros(3, 128, 128), torch.zeros(3, 128, 1)])
        False
    """
    hidden = len(weights) - 1
    widths = [w.shape[-1] for w in weights[:-1]]
    return hidden in KERNEL_MAX_WIDTH and all(w <= KERNEL_MAX_WIDTH[hidden] for w in widths)


def _kernels(like: torch.Tensor, weights):
    """The Triton module to run, or None for the reference."""
    name = _backend.backend()
    if name == "torch" or (name == "triton" and not like.is_cuda) or not kernel_supports(weights):
        return None
    return _backend.triton_module("mechanism/triton.py", interpret=name == "interpret")


def _check_network(x, x_name, parent_index, parent_mask, weights, biases, activation, scale):
    check_float(x, x_name, ndim=2)
    n = x.shape[1]
    if not isinstance(parent_index, torch.Tensor) or parent_index.dtype not in (torch.int32, torch.int64):
        raise CausalError("parent_index must be an int32/int64 tensor [N, P]")
    if parent_index.dim() != 2 or parent_index.shape[0] != n or parent_index.shape[1] < 1:
        raise CausalError(f"parent_index must have shape [N={n}, P>=1], got {tuple(parent_index.shape)}")
    check_float(parent_mask, "parent_mask", ndim=2, shape=tuple(parent_index.shape))
    for t, name in ((parent_index, "parent_index"), (parent_mask, "parent_mask")):
        if t.device != x.device:
            raise CausalError(f"{name} is on {t.device}, expected {x.device} like {x_name}")
    if parent_index.numel() and (int(parent_index.min()) < 0 or int(parent_index.max()) >= n):
        raise CausalError(f"parent_index has entries outside [0, {n})")
    widths = check_layers(weights, biases, parent_index.shape[1], (n,), x.dtype, x.device)
    if widths[-1] not in (1, 2):
        raise CausalError(
            f"weights[-1] must have 1 output (additive: loc) or 2 (location-scale: loc, raw scale), got {widths[-1]}"
        )
    check_activation(activation)
    if widths[-1] == 2:
        if scale is not None:
            raise CausalError("scale must be None for location-scale mechanisms (2 outputs)")
        return
    if scale is None:
        raise CausalError("scale [N] is required for additive mechanisms (1 output)")
    check_float(scale, "scale", ndim=1, shape=(n,))
    if scale.dtype != x.dtype or scale.device != x.device:
        raise CausalError(f"scale must have the dtype and device of {x_name}")
    if not bool((scale > 0).all()):
        raise CausalError("scale must be positive")


def mechanism_forward(x, parent_index, parent_mask, weights, biases, activation, scale=None):
    """Every node's location, scale, exogenous noise and the rows' Gaussian log-density.

    Args:
        x: ``[B, N]`` values of the nodes.
        parent_index: ``LongTensor[N, P]``, column of ``x`` of node ``j``'s ``p``-th parent.
        parent_mask: ``[N, P]``, 1 for a real parent, 0 for padding (never read).
        weights, biases: per layer ``[N, in_l, out_l]`` and ``[N, out_l]``; ``in_0 = P``;
            the last ``out`` is 1 (additive) or 2 (location-scale).
        activation: ``"tanh"``, ``"relu"`` or ``"silu"``, after every hidden layer.
        scale: ``[N]`` positive noise scales (additive only).

    Returns:
        ``(loc, scale, u, log_prob)``: ``[B, N]`` ×3 and ``[B]``, where
        ``u = (x - loc) / scale`` and ``log_prob`` sums ``Normal(loc, scale).log_prob(x)``
        over nodes. Differentiable in ``x``, weights, biases and ``scale``.
    """
    _check_network(x, "x", parent_index, parent_mask, weights, biases, activation, scale)
    module = _kernels(x, weights)
    if module is None:
        return reference.mechanism_forward(x, parent_index, parent_mask, weights, biases, activation, scale)
    f32 = [None if t is None else t.to(torch.float32) for t in (x, parent_mask, scale)]
    outputs = module.MechanismFunction.apply(
        f32[0],
        parent_index,
        f32[1],
        f32[2],
        activation,
        *[w.to(torch.float32) for w in weights],
        *[b.to(torch.float32) for b in biases],
    )
    return tuple(t.to(x.dtype) for t in outputs)


def topological_levels(
    order: torch.Tensor, parent_index: torch.Tensor, parent_mask: torch.Tensor
) -> list[torch.Tensor]:
    """Check that ``order`` is a topological order and group the nodes by level.

    Level 0 holds the roots, level ``k`` the nodes whose deepest parent is on level ``k-1``.

    Example:
        >>> pidx, pmask = torch.tensor([[0], [0], [1]]), torch.tensor([[0.0], [1.0], [1.0]])
        >>> [lv.tolist() for lv in topological_levels(torch.tensor([0, 1, 2]), pidx, pmask)]
        [[0], [1], [2]]
    """
    n = parent_index.shape[0]
    if not isinstance(order, torch.Tensor) or order.dtype not in (torch.int32, torch.int64):
        raise CausalError("order must be an int32/int64 tensor [N]")
    order_list = order.detach().cpu().tolist() if order.dim() == 1 else None
    if order_list is None or sorted(order_list) != list(range(n)):
        raise CausalError(f"order must be a permutation of the {n} nodes, got {order.tolist()}")
    live = (parent_mask.detach() != 0).cpu().tolist()
    parents = parent_index.detach().cpu().tolist()
    level = [-1] * n
    for j in order_list:
        real = [q for q, ok in zip(parents[j], live[j]) if ok]
        late = [q for q in real if level[q] < 0]
        if late:
            raise CausalError(f"order is not topological: node {j} comes before its parent {late[0]}")
        level[j] = 1 + max((level[q] for q in real), default=-1)
    return [torch.tensor([j for j in order_list if level[j] == k], dtype=torch.long) for k in range(max(level) + 1)]


def _interventions(u, intervene_mask, intervene_value):
    if intervene_mask is None:
        if intervene_value is not None:
            raise CausalError("intervene_value was given without intervene_mask")
        return None, None
    b, n = u.shape
    if not isinstance(intervene_mask, torch.Tensor) or intervene_mask.dtype != torch.bool:
        raise CausalError("intervene_mask must be a bool tensor of shape [N] or [B, N]")
    if tuple(intervene_mask.shape) not in ((n,), (b, n)):
        raise CausalError(f"intervene_mask must have shape [{n}] or [{b}, {n}], got {tuple(intervene_mask.shape)}")
    if intervene_value is None:
        raise CausalError("intervene_value is required with intervene_mask")
    value = torch.as_tensor(intervene_value, dtype=u.dtype, device=u.device)
    try:
        value = torch.broadcast_to(value, (b, n))
    except RuntimeError as err:
        raise CausalError(f"intervene_value of shape {tuple(value.shape)} does not broadcast to [{b}, {n}]") from err
    return torch.broadcast_to(intervene_mask.to(u.device), (b, n)), value


def mechanism_sample(
    u,
    parent_index,
    parent_mask,
    weights,
    biases,
    activation,
    order,
    scale=None,
    intervene_mask=None,
    intervene_value=None,
    variant="dag",
):
    """Ancestral sampling / counterfactual prediction from exogenous noise ``u``.

    Nodes are computed in the topological ``order``: ``x_j = loc_j(x_parents) +
    scale_j * u_j``, except where ``intervene_mask`` (``[N]`` or ``[B, N]``, bool) is set,
    where ``x_j = intervene_value`` (broadcast to ``[B, N]``). ``variant="dag"`` runs one
    kernel launch that walks the whole DAG; ``"level"`` one launch per topological level.
    The kernels are forward-only: when autograd needs a graph (grad mode on and an input
    requires grad) the call runs the differentiable reference instead.

    Returns:
        ``x``: ``[B, N]``.
    """
    _check_network(u, "u", parent_index, parent_mask, weights, biases, activation, scale)
    if variant not in ("dag", "level"):
        raise CausalError(f"variant={variant!r} is not one of 'dag', 'level'")
    levels = topological_levels(order, parent_index, parent_mask)
    imask, ivalue = _interventions(u, intervene_mask, intervene_value)
    module = _kernels(u, weights)
    inputs = [u, scale, ivalue, *weights, *biases]
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        module = None
    if module is None:
        return reference.mechanism_sample(
            u, parent_index, parent_mask, weights, biases, activation, order.to(u.device), scale, imask, ivalue
        )
    x = module.sample(
        u, parent_index, parent_mask, weights, biases, activation, order, scale, imask, ivalue, variant, levels
    )
    return x.to(u.dtype)
