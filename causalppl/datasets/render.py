"""A small vectorised rasteriser: distance fields with a one-pixel soft edge.

Shapes are described by their (signed) distance in pixels from every pixel centre; a
pixel's coverage is ``clamp(0.5 - signed_distance, 0, 1)``, a linear ramp one pixel wide
that crosses 1/2 exactly on the shape's edge (the box-filter coverage of a straight edge).
Pixel ``(row, col)`` has its centre at ``(x, y) = (col + 0.5, row + 0.5)``. Everything is
computed in float32 whatever torch's default dtype, elementwise or reduced along fixed
dims only, so a unit renders to the same bits alone or in any batch.

Example:
    >>> x, y = pixel_centres(4)
    >>> a = torch.tensor([[[0.0, 2.0]]]); b = torch.tensor([[[4.0, 2.0]]])
    >>> cov = coverage(segment_distance(a, b, x, y), 1.0)   # a 2-pixel-wide bar
    >>> cov.reshape(4, 4)[:, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = [
    "chunked",
    "coverage",
    "disc_distance",
    "match_median",
    "pixel_centres",
    "segment_distance",
]

DTYPE = torch.float32
_CHUNK_ELEMENTS = 1 << 18  # [units, segments, pixels] tensors of 1 MB stay in cache


def pixel_centres(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of the pixel centres of a ``size x size`` image, flattened row-major.

    Example:
        >>> pixel_centres(2)[0].tolist(), pixel_centres(2)[1].tolist()
        ([0.5, 1.5, 0.5, 1.5], [0.5, 0.5, 1.5, 1.5])
    """
    c = torch.arange(size, dtype=DTYPE) + 0.5
    return c.repeat(size), c.repeat_interleave(size)


def segment_distance(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Distance from each pixel centre to the nearest of a unit's segments ``a[k] -> b[k]``.

    Args:
        a, b: ``[units, segments, 2]`` end points in pixels.
        x, y: ``[pixels]`` pixel centres.

    Returns:
        ``[units, pixels]``.

    Example:
        >>> a = torch.tensor([[[0.0, 0.0]]]); b = torch.tensor([[[2.0, 0.0]]])
        >>> segment_distance(a, b, torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])).tolist()
        [[1.0, 1.0]]
    """
    ax, ay = a[..., 0, None], a[..., 1, None]
    dx, dy = b[..., 0, None] - ax, b[..., 1, None] - ay
    inv = 1.0 / (dx * dx + dy * dy).clamp_min(1e-12)
    wx, wy = x - ax, y - ay
    s = ((wx * dx + wy * dy) * inv).clamp(0.0, 1.0)
    ex, ey = wx - s * dx, wy - s * dy
    return (ex * ex + ey * ey).amin(-2).sqrt()


def disc_distance(centre: torch.Tensor, radius: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Signed distance ``[units, pixels]`` to discs ``centre [units, 2]``, ``radius [units]``.

    Example:
        >>> disc_distance(torch.tensor([[0.0, 0.0]]), torch.tensor([1.0]), torch.tensor([3.0]), torch.tensor([4.0]))
        tensor([[4.]])
    """
    return torch.hypot(x - centre[:, :1], y - centre[:, 1:]) - radius[:, None]


def coverage(distance: torch.Tensor, half_width) -> torch.Tensor:
    """Soft coverage of a stroke ``half_width`` pixels either side of a skeleton.

    ``distance`` is the unsigned distance to the skeleton (or, with ``half_width=0``, a signed
    distance to a shape's edge); ``half_width`` broadcasts against it.

    Example:
        >>> coverage(torch.tensor([0.0, 1.0, 1.25, 2.0]), 1.0).tolist()
        [1.0, 0.5, 0.25, 0.0]
    """
    return (half_width + 0.5 - distance).clamp(0.0, 1.0)


def match_median(cover: torch.Tensor, level: torch.Tensor, noise: torch.Tensor, steps: int = 3) -> torch.Tensor:
    """``clamp(s * cover + noise, 0, 1)`` with ``s`` per row so that its foreground median is ``level``.

    The foreground is Morpho-MNIST's: pixels at or above the midpoint between the image's
    minimum and maximum; the median of an even count is the mean of the middle two (as
    ``numpy.median``). ``s`` starts where the noiseless median matches and takes ``steps``
    fixed-point steps ``s <- s * level / median`` on the noisy, clipped image, which remove
    the pull of the noise on the median to well under its sd.

    Args:
        cover: ``[units, pixels]`` coverage in ``[0, 1]``.
        level: ``[units]`` target medians.
        noise: ``[units, pixels]`` added before clipping.

    Example:
        >>> cover = torch.tensor([[0.0, 0.5, 1.0, 1.0]])
        >>> [round(v, 4) for v in match_median(cover, torch.tensor([0.8]), torch.zeros(1, 4))[0].tolist()]
        [0.0, 0.4, 0.8, 0.8]
    """
    s = level / _median_fg(cover)
    for _ in range(steps):
        s = s * level / _median_fg((s[:, None] * cover + noise).clamp(0.0, 1.0))
    return (s[:, None] * cover + noise).clamp(0.0, 1.0)


def _median_fg(image: torch.Tensor) -> torch.Tensor:
    lo, hi = image.amin(1, keepdim=True), image.amax(1, keepdim=True)
    k = (image >= lo + 0.5 * (hi - lo)).sum(1, keepdim=True)
    top = image.topk(int(k.max()), 1).values  # each row's foreground is its k largest values
    return (0.5 * (top.gather(1, (k - 1) // 2) + top.gather(1, k // 2))).squeeze(1).clamp_min(1e-6)


def chunked(fn: Callable[..., torch.Tensor], *args: torch.Tensor, per_unit: int) -> torch.Tensor:
    """``fn(*args)`` over the leading (unit) dim in chunks of about ``2**18 / per_unit`` units.

    Example:
        >>> chunked(lambda v: v * 2, torch.arange(5.0), per_unit=1 << 17).tolist()
        [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    step = max(1, _CHUNK_ELEMENTS // max(per_unit, 1))
    m = args[0].shape[0]
    if m <= step:
        return fn(*args)
    return torch.cat([fn(*(a[i : i + step] for a in args)) for i in range(0, m, step)])
