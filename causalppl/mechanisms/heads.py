"""How a mechanism reads its network's raw outputs: shared by the Pyro and fast paths.

Every function here takes raw outputs whose last dim holds (at least) the columns the
kind needs, so the stacked fast path can pass a padded ``[..., W]`` block and a single
mechanism its own ``[..., w]`` output; both get the same numbers from the same code.

Column layout per scalar element:
- ``additive``: ``[loc]``; the noise scale is a separate per-node parameter.
- ``location_scale``: ``[loc, raw scale]``.
- ``flow``: ``[loc, raw scale, 3K-1 spline parameters]``.
- ``categorical``: ``K`` logits.
"""

from __future__ import annotations

import torch

from causalppl.kernels.mechanism.reference import scale_transform

from .spline import spline_param_count

__all__ = [
    "ADDITIVE",
    "CATEGORICAL",
    "CONTINUOUS_KINDS",
    "FLOW",
    "KINDS",
    "LOCATION_SCALE",
    "additive_scale",
    "head_width",
    "scale_transform",
]

ADDITIVE, LOCATION_SCALE, FLOW, CATEGORICAL = "additive", "location_scale", "flow", "categorical"
CONTINUOUS_KINDS = (ADDITIVE, LOCATION_SCALE, FLOW)
KINDS = CONTINUOUS_KINDS + (CATEGORICAL,)


def additive_scale(raw_scale: torch.Tensor) -> torch.Tensor:
    """Positive per-node noise scale of an additive mechanism from its raw parameter.

    The same map as :func:`scale_transform` (``softplus(raw) + 1e-4``, shared with the
    kernels) applied to a free parameter instead of a network output.

    Example:
        >>> round(float(additive_scale(torch.tensor(0.5413))), 3)
        1.0
    """
    return scale_transform(raw_scale)


def head_width(kind: str, bins: int = 8, categories: int = 0) -> int:
    """Raw output columns one scalar element of ``kind`` needs.

    Example:
        >>> [head_width(k, bins=8) for k in (ADDITIVE, LOCATION_SCALE, FLOW)]
        [1, 2, 25]
    """
    if kind == ADDITIVE:
        return 1
    if kind == LOCATION_SCALE:
        return 2
    if kind == FLOW:
        return 2 + spline_param_count(bins)
    if kind == CATEGORICAL:
        return categories
    raise ValueError(kind)
