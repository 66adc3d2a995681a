"""Stroke skeletons of the digits 0-9, drawn by hand in a unit box.

A glyph is a list of strokes. A stroke starts at a point and continues with pieces:
``("L", p)`` a straight line to ``p``, or ``("C", c1, c2, p)`` a cubic Bezier curve to ``p``
with control points ``c1, c2``. Coordinates are ``(x, y)`` in ``[0, 1]^2`` with ``y``
pointing down (image convention); the box maps onto the 20 x 20 pixel square that MNIST
centres its digits in.

Curves are sampled into straight segments, and sampling is linear in the control points,
so each glyph is stored as control points ``C [P, 2]``, a weight matrix ``W [V, P]`` with
vertices ``W @ C``, and the vertex pairs of its segments. Jittering the control points
before ``W @ C`` bends a digit smoothly and keeps its strokes connected.

Example:
    >>> g = glyph_table(8)
    >>> g.points.shape[1], (g.weights @ g.points).shape[1]
    (2, 2)
    >>> max(glyph_table(d).points.shape[0] for d in range(10)) == MAX_POINTS
    True
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import torch

__all__ = ["MAX_POINTS", "STROKES", "Glyph", "glyph_table"]

_K = 0.5523  # cubic-Bezier handle length of a quarter ellipse
_PIECES = 6  # straight segments per sampled curve: smooth at 28 px, cheap to render


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list:
    """A closed clockwise ellipse from its top point, as four cubic pieces."""
    top, right, bottom, left = (cx, cy - ry), (cx + rx, cy), (cx, cy + ry), (cx - rx, cy)
    return [
        top,
        ("C", (cx + _K * rx, cy - ry), (cx + rx, cy - _K * ry), right),
        ("C", (cx + rx, cy + _K * ry), (cx + _K * rx, cy + ry), bottom),
        ("C", (cx - _K * rx, cy + ry), (cx - rx, cy + _K * ry), left),
        ("C", (cx - rx, cy - _K * ry), (cx - _K * rx, cy - ry), top),
    ]


STROKES: dict[int, list[list]] = {
    0: [_ellipse(0.5, 0.5, 0.27, 0.42)],
    1: [[(0.36, 0.24), ("L", (0.56, 0.08)), ("L", (0.54, 0.92))]],
    2: [
        [
            (0.24, 0.28),
            ("C", (0.26, 0.05), (0.76, 0.03), (0.74, 0.30)),
            ("C", (0.72, 0.52), (0.40, 0.66), (0.22, 0.90)),
            ("L", (0.80, 0.90)),
        ]
    ],
    3: [
        [
            (0.26, 0.16),
            ("C", (0.50, 0.01), (0.80, 0.11), (0.72, 0.30)),
            ("C", (0.68, 0.43), (0.54, 0.48), (0.42, 0.48)),
            ("C", (0.64, 0.48), (0.82, 0.60), (0.76, 0.76)),
            ("C", (0.68, 0.95), (0.36, 0.97), (0.22, 0.84)),
        ]
    ],
    4: [[(0.64, 0.92), ("L", (0.64, 0.08)), ("L", (0.20, 0.64)), ("L", (0.84, 0.64))]],
    5: [
        [
            (0.76, 0.10),
            ("L", (0.34, 0.10)),
            ("L", (0.30, 0.46)),
            ("C", (0.46, 0.36), (0.80, 0.38), (0.77, 0.66)),
            ("C", (0.74, 0.93), (0.40, 0.97), (0.23, 0.84)),
        ]
    ],
    6: [
        [
            (0.70, 0.09),
            ("C", (0.48, 0.14), (0.27, 0.36), (0.27, 0.64)),
            ("C", (0.27, 0.86), (0.40, 0.92), (0.51, 0.92)),
            ("C", (0.66, 0.92), (0.75, 0.81), (0.75, 0.68)),
            ("C", (0.75, 0.53), (0.63, 0.44), (0.51, 0.44)),
            ("C", (0.39, 0.44), (0.30, 0.51), (0.28, 0.60)),
        ]
    ],
    7: [[(0.22, 0.10), ("L", (0.78, 0.10)), ("L", (0.42, 0.92))]],
    8: [_ellipse(0.5, 0.27, 0.19, 0.18), _ellipse(0.5, 0.68, 0.23, 0.23)],
    9: [_ellipse(0.48, 0.31, 0.22, 0.22), [(0.70, 0.31), ("C", (0.70, 0.55), (0.66, 0.75), (0.62, 0.92))]],
}


class Glyph(NamedTuple):
    """One digit's skeleton: ``vertices = weights @ points``; segment ``k`` joins ``a[k], b[k]``.

    Example:
        >>> g = glyph_table(7)
        >>> vertices = g.weights @ g.points
        >>> vertices[g.a[0]].tolist(), len(g.a)
        ([0.2199999988079071, 0.10000000149011612], 2)
    """

    points: torch.Tensor  # [P, 2] control points (float32)
    weights: torch.Tensor  # [V, P] float32
    a: torch.Tensor  # [S] int64
    b: torch.Tensor  # [S] int64


def _bernstein(pieces: int) -> torch.Tensor:
    s = torch.arange(1, pieces + 1, dtype=torch.float64) / pieces
    return torch.stack([(1 - s) ** 3, 3 * s * (1 - s) ** 2, 3 * s**2 * (1 - s), s**3], 1)  # [pieces, 4]


@cache
def glyph_table(digit: int) -> Glyph:
    """The control points, sampling weights and segments of one digit's glyph.

    Example:
        >>> g = glyph_table(1)
        >>> g.points.shape, g.weights.shape, g.a.tolist(), g.b.tolist()
        (torch.Size([3, 2]), torch.Size([3, 3]), [0, 1], [1, 2])
    """
    points: list[tuple[float, float]] = []
    rows: list[dict[int, float]] = []  # a vertex as {control point: weight}
    a: list[int] = []
    for stroke in STROKES[digit]:
        first = len(points)
        points.append(stroke[0])
        rows.append({first: 1.0})
        last = first
        for piece in stroke[1:]:
            # A closed stroke ends on its own first point, so jitter cannot open the loop.
            closes = piece[-1] == stroke[0]
            points.extend(piece[1:-1] if closes else piece[1:])
            end = first if closes else len(points) - 1
            if piece[0] == "L":
                new = [{end: 1.0}]
            else:
                idx = (last, last + 1, last + 2, end)
                new = [dict(zip(idx, w.tolist())) for w in _bernstein(_PIECES)]
            last = end
            for row in new:
                a.append(len(rows) - 1)
                rows.append(row)
    weights = torch.zeros(len(rows), len(points), dtype=torch.float64)
    for v, row in enumerate(rows):
        for p, w in row.items():
            weights[v, p] = w
    a_idx = torch.tensor(a, dtype=torch.int64)
    return Glyph(torch.tensor(points, dtype=torch.float32), weights.float(), a_idx, a_idx + 1)


MAX_POINTS = max(len(glyph_table(d).points) for d in range(10))
