"""Plain-PyTorch reference of the stacked per-node mechanisms (the numbers the kernels must match).

Layout (shared with the Triton kernels and :class:`causalppl.NeuralSCM`): node ``j`` reads
``x[:, parent_index[j, p]]`` weighted by ``parent_mask[j, p]`` (0 = padding, never read),
and runs an MLP whose layer ``l`` has weight ``weights[l][j]: [in_l, out_l]`` and bias
``biases[l][j]``. The last layer has one output (additive noise: ``loc``; the scale is the
per-node ``scale[j]``) or two (location-scale: ``loc`` and a raw scale mapped through
:func:`scale_transform`). Root nodes go through the MLP with an all-zero input, so their
``loc`` is a learned constant.

The batched path is node-major (``[N, B, ·]`` and ``bmm``) and, for large batches,
evaluates root nodes on one row instead of ``B``; both are measured in
``causalppl bench kernels``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..activations import activate

__all__ = [
    "HALF_LOG_2PI",
    "SCALE_FLOOR",
    "SKIP_ROOTS_FROM_ROWS",
    "activate",
    "gather_parents",
    "mechanism_forward",
    "mechanism_sample",
    "node_outputs",
    "scale_transform",
    "stacked_mlp",
]

SCALE_FLOOR = 1e-4
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def scale_transform(raw: torch.Tensor) -> torch.Tensor:
    """Map a raw network output to a positive scale: ``softplus(raw) + 1e-4``.

    The floor keeps ``u = (x - loc) / scale`` finite. The kernels use the same transform.

    Example:
        >>> scale_transform(torch.tensor([0.0])).item()  # log(2) + 1e-4
        0.693247...
    """
    return F.softplus(raw) + SCALE_FLOOR


def gather_parents(x: torch.Tensor, parent_index: torch.Tensor, parent_mask: torch.Tensor) -> torch.Tensor:
    """Masked parent values, ``[B, N, P]``; padding entries are 0 and never read."""
    xp = x[:, parent_index]
    return torch.where(parent_mask != 0, xp * parent_mask, torch.zeros((), dtype=x.dtype))


def stacked_mlp(h: torch.Tensor, weights, biases, activation: str, nodes=None) -> torch.Tensor:
    """The stacked MLP reference: ``n`` nets node-major, ``h [n, rows, in] -> [n, rows, out]``.

    Layer ``l`` of net ``j`` is ``h @ weights[l][j] + biases[l][j]``; the hidden activation
    (by name) follows every layer but the last; ``nodes`` selects the nets' weight rows. The
    mechanism banks, the blocked CPU path and the kernels are all checked against it.

    Example:
        >>> w, b = [torch.ones(2, 1, 3), torch.ones(2, 3, 1)], [torch.zeros(2, 3), torch.zeros(2, 1)]
        >>> stacked_mlp(torch.ones(2, 1, 1), w, b, "relu").flatten().tolist()
        [3.0, 3.0]
    """
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        if nodes is not None:
            w, b = w[nodes], b[nodes]
        h = torch.baddbmm(b.unsqueeze(1), h, w)
        if i < last:
            h = activate(h, activation)
    return h


# Below this many rows, finding the roots costs more than evaluating them (measured on CPU:
# benchmarks/results/kernels.md, "batched bmm, all nodes" vs "roots skipped").
SKIP_ROOTS_FROM_ROWS = 16384


def node_outputs(
    x: torch.Tensor,
    parent_index: torch.Tensor,
    parent_mask: torch.Tensor,
    weights,
    biases,
    activation: str,
    skip_roots: bool | None = None,
) -> torch.Tensor:
    """Every node's last-layer output for every row, ``[B, N, out]``.

    With ``skip_roots`` the root nodes (all-zero mask) are evaluated on a single zero row
    and broadcast, which gives the same numbers with less work; ``None`` skips them from
    ``SKIP_ROOTS_FROM_ROWS`` rows on.
    """
    if skip_roots is None:
        skip_roots = x.shape[0] >= SKIP_ROOTS_FROM_ROWS
    xp = gather_parents(x, parent_index, parent_mask).transpose(0, 1)  # [N, B, P]
    if not skip_roots:
        return stacked_mlp(xp, weights, biases, activation).transpose(0, 1)
    is_root = (parent_mask == 0).all(dim=1)
    roots, others = is_root.nonzero().flatten(), (~is_root).nonzero().flatten()
    if len(roots) == 0:
        return stacked_mlp(xp, weights, biases, activation).transpose(0, 1)
    zero_row = xp.new_zeros(len(roots), 1, xp.shape[-1])
    root_out = stacked_mlp(zero_row, weights, biases, activation, roots)
    root_out = root_out.expand(len(roots), x.shape[0], root_out.shape[-1])
    parts = [root_out]
    if len(others) > 0:
        parts.append(stacked_mlp(xp[others], weights, biases, activation, others))
    order = torch.cat([roots, others]).argsort()
    return torch.cat(parts)[order].transpose(0, 1)


def _loc_scale(out: torch.Tensor, scale: torch.Tensor | None):
    loc = out[..., 0]
    if out.shape[-1] == 2:
        return loc, scale_transform(out[..., 1])
    return loc, scale.expand_as(loc)


def mechanism_forward(
    x, parent_index, parent_mask, weights, biases, activation, scale=None, skip_roots: bool | None = None
):
    """Reference of :func:`causalppl.kernels.mechanism_forward` (arguments checked there).

    Returns ``(loc, scale, u, log_prob)`` with shapes ``[B, N]`` ×3 and ``[B]``.

    Example:
        >>> x = torch.tensor([[0.5, 1.0]])
        >>> pidx, pmask = torch.tensor([[0], [0]]), torch.tensor([[0.0], [1.0]])
        >>> w = [torch.ones(2, 1, 3), torch.ones(2, 3, 1)]
        >>> b = [torch.zeros(2, 3), torch.zeros(2, 1)]
        >>> loc, s, u, lp = mechanism_forward(x, pidx, pmask, w, b, "relu", torch.ones(2))
        >>> loc.tolist(), u.tolist()  # loc_1 = 3 * relu(x_0)
        ([[0.0, 1.5]], [[0.5, -0.5]])
    """
    out = node_outputs(x, parent_index, parent_mask, weights, biases, activation, skip_roots)
    loc, s = _loc_scale(out, scale)
    u = (x - loc) / s
    log_prob = (-0.5 * u * u - torch.log(s) - HALF_LOG_2PI).sum(-1)
    return loc, s, u, log_prob


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
    variant: str = "dag",
):
    """Reference of :func:`causalppl.kernels.mechanism_sample`: a walk in topological order.

    ``intervene_mask`` is ``None`` or a bool ``[B, N]`` tensor and ``intervene_value`` a
    ``[B, N]`` tensor (the entry point broadcasts them). ``variant`` only matters to the
    kernels; the walk is the same. Differentiable (no in-place writes).

    Example:
        >>> u = torch.tensor([[1.0, 0.0]])
        >>> pidx, pmask = torch.tensor([[0], [0]]), torch.tensor([[0.0], [1.0]])
        >>> w = [torch.ones(2, 1, 1), torch.full((2, 1, 1), 2.0)]
        >>> b = [torch.zeros(2, 1), torch.zeros(2, 1)]
        >>> mechanism_sample(u, pidx, pmask, w, b, "relu", torch.tensor([0, 1]),
        ...                  scale=torch.ones(2)).tolist()  # x1 = 2 * relu(x0)
        [[1.0, 2.0]]
    """
    del variant
    n = u.shape[1]
    x = torch.zeros_like(u)
    columns = torch.arange(n, device=u.device)
    for j in order.tolist():
        xp = gather_parents(x, parent_index[j : j + 1], parent_mask[j : j + 1])  # [B, 1, P]
        out = stacked_mlp(xp.transpose(0, 1), weights, biases, activation, slice(j, j + 1))[0]
        loc, s = _loc_scale(out, None if scale is None else scale[j])
        value = loc + s * u[:, j]
        if intervene_mask is not None:
            value = torch.where(intervene_mask[:, j], intervene_value[:, j], value)
        x = torch.where(columns == j, value.unsqueeze(1), x)
    return x
