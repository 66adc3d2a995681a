"""Morpho-digits: 28 x 28 digit images rendered from thickness and intensity, with their noise.

The attribute SCM is Deep SCM's (Pawlowski, Castro & Glocker 2020) synthetic Morpho-MNIST
model; the digits are drawn from hand-made stroke skeletons (:mod:`.glyphs`) instead of
MNIST, so every unit can be rendered again under any intervention:

* ``digit ~ Uniform{0, ..., 9}``;
* ``thickness = 0.5 + g``, ``g ~ Gamma(concentration 10, rate 5)``: the stroke width in
  pixels (mean 2.5, sd 0.63);
* ``intensity = (64 + 191 * sigmoid(2 (thickness - 2.5) + 0.5 e)) / 255``, ``e ~ Normal(0, 1)``:
  Deep SCM's intensity on the 0-255 scale, **stored divided by 255** (so in
  ``(64/255, 1) ~ (0.25, 1)``);
* style, kept per unit: ``slant ~ Normal(0, 0.2)`` (horizontal shear), ``size ~ LogNormal(0,
  0.06)``, ``shift ~ Normal(0, 0.6)`` pixels (x, y) and ``jitter ~ Normal(0, 0.012)`` per
  control point (in units of the 20-pixel digit box);
* ``image``: the skeleton, styled, stroked ``thickness`` pixels wide with a one-pixel soft
  edge and scaled so that the median foreground pixel (Morpho-MNIST's foreground: at or
  above the midpoint between the image's min and max) equals ``intensity``; then
  ``pixel_noise ~ Normal(0, 0.02)`` is added and the image clipped to ``[0, 1]``. The
  pixel noise is kept, so a counterfactual image keeps it too.
"""

from __future__ import annotations

from functools import partial

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions.transforms import AffineTransform, SigmoidTransform

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph
from ..rng import seeded
from .glyphs import MAX_POINTS, Glyph, glyph_table
from .morphometry import measure
from .render import DTYPE, chunked, coverage, match_median, pixel_centres, segment_distance
from .rendered import RenderedDataset

__all__ = ["MorphoDigits", "digits_model", "morpho_digits", "render_digits"]

SIZE = 28
BOX = 20.0  # pixels spanned by the glyphs' unit box, as MNIST's centred 20 x 20 digit square
SLANT_SD, SIZE_SD, SHIFT_SD, JITTER_SD, PIXEL_NOISE_SD = 0.2, 0.06, 0.6, 0.012, 0.02


def _intensity(thickness: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    return (64.0 + 191.0 * torch.sigmoid(2.0 * (thickness - 2.5) + 0.5 * e)) / 255.0


def render_digits(digit, thickness, intensity, slant, size, shift, jitter, pixel_noise) -> torch.Tensor:
    """Render digits from their attributes and noise; any common batch shape ``B``.

    Args:
        digit: ``B`` integers in 0..9.
        thickness: ``B`` stroke widths in pixels.
        intensity: ``B`` median foreground values in ``(0, 1]``.
        slant, size: ``B`` shear and scale.
        shift: ``B + (2,)`` translation in pixels.
        jitter: ``B + (P, 2)`` control-point offsets, ``P >= MAX_POINTS``.
        pixel_noise: ``B + (1, 28, 28)`` added before clipping.

    Returns:
        ``B + (1, 28, 28)`` float32 images in ``[0, 1]``.

    Example:
        >>> z = torch.zeros(2)
        >>> img = render_digits(torch.tensor([1, 7]), z + 2.5, z + 0.8, z, z + 1, torch.zeros(2, 2),
        ...                     torch.zeros(2, MAX_POINTS, 2), torch.zeros(2, 1, 28, 28))
        >>> img.shape, img.dtype, round(float(img.max()), 2)
        (torch.Size([2, 1, 28, 28]), torch.float32, 0.8)
    """
    batch = torch.broadcast_shapes(
        digit.shape,
        thickness.shape,
        intensity.shape,
        slant.shape,
        size.shape,
        shift.shape[:-1],
        jitter.shape[:-2],
        pixel_noise.shape[:-3],
    )

    def flat(v: torch.Tensor, event: int) -> torch.Tensor:
        tail = v.shape[v.dim() - event :]
        return v.expand(batch + tail).reshape((-1,) + tail)

    d = flat(digit, 0).long()
    if d.numel() and (int(d.min()) < 0 or int(d.max()) > 9):
        raise CausalError(f"digit must be an integer in 0..9, got values from {int(d.min())} to {int(d.max())}")
    args = [
        flat(v, k).to(DTYPE)
        for v, k in ((thickness, 0), (intensity, 0), (slant, 0), (size, 0), (shift, 1), (jitter, 2), (pixel_noise, 3))
    ]
    # Units are rendered by digit, so each batch has exactly its glyph's segments; the
    # permutation is undone functionally (no in-place writes) to keep provenance tracking.
    order = torch.argsort(d, stable=True)
    parts, start = [], 0
    for g, count in enumerate(torch.bincount(d, minlength=10).tolist()):
        if count:
            rows = order[start : start + count]
            glyph = glyph_table(g)
            per_unit = len(glyph.a) * SIZE * SIZE
            parts.append(chunked(partial(_render_glyph, glyph), *(a[rows] for a in args), per_unit=per_unit))
            start += count
    return torch.cat(parts)[torch.argsort(order)].reshape(batch + (1, SIZE, SIZE))


def _render_glyph(glyph: Glyph, thickness, intensity, slant, size, shift, jitter, pixel_noise) -> torch.Tensor:
    ctrl = glyph.points + jitter[:, : len(glyph.points)]
    q = (glyph.weights[None, :, :, None] * ctrl[:, None]).sum(2) - 0.5  # [m, vertices, 2], box centre at 0
    scale = BOX * size[:, None]
    x = SIZE / 2 + shift[:, :1] + scale * (q[..., 0] - slant[:, None] * q[..., 1])
    y = SIZE / 2 + shift[:, 1:] + scale * q[..., 1]
    pts = torch.stack([x, y], -1)
    px, py = pixel_centres(SIZE)
    cover = coverage(segment_distance(pts[:, glyph.a], pts[:, glyph.b], px, py), 0.5 * thickness[:, None])
    return match_median(cover, intensity, pixel_noise.reshape(len(cover), -1)).reshape(-1, 1, SIZE, SIZE)


def digits_model() -> torch.Tensor:
    """One unit of :func:`morpho_digits` as a plain Pyro program.

    Sites: ``digit``, ``thickness``, ``intensity`` (the attribute SCM), the style and pixel
    noise as exogenous sites (``infer={"exogenous": True}``: ``slant``, ``size``, ``shift``,
    ``jitter``, ``pixel_noise``), and ``image`` as a ``pyro.deterministic`` rendering.
    Vectorise it the Pyro way: ``with pyro.plate("unit", n): digits_model()``.

    Example:
        >>> import causalppl as cp
        >>> cp.graph(digits_model).edges
        [('thickness', 'intensity'), ('digit', 'image'), ('thickness', 'image'), ('intensity', 'image')]
        >>> cp.sample(digits_model, 3, seed=0).image.shape
        (3, 1, 28, 28)
    """
    digit = pyro.sample("digit", dist.Categorical(logits=torch.zeros(10)))
    thickness = pyro.sample("thickness", dist.TransformedDistribution(dist.Gamma(10.0, 5.0), AffineTransform(0.5, 1.0)))
    loc = 2.0 * (thickness - 2.5)
    squash = [SigmoidTransform(), AffineTransform(64.0 / 255.0, 191.0 / 255.0)]
    intensity = pyro.sample("intensity", dist.TransformedDistribution(dist.Normal(loc, 0.5), squash))
    exo = {"exogenous": True}
    slant = pyro.sample("slant", dist.Normal(0.0, SLANT_SD), infer=exo)
    size = pyro.sample("size", dist.LogNormal(0.0, SIZE_SD), infer=exo)
    shift = pyro.sample("shift", dist.Normal(0.0, SHIFT_SD).expand([2]).to_event(1), infer=exo)
    jitter = pyro.sample("jitter", dist.Normal(0.0, JITTER_SD).expand([MAX_POINTS, 2]).to_event(2), infer=exo)
    noise = pyro.sample("pixel_noise", dist.Normal(0.0, PIXEL_NOISE_SD).expand([1, SIZE, SIZE]).to_event(3), infer=exo)
    image = render_digits(digit, thickness, intensity, slant, size, shift, jitter, noise)
    return pyro.deterministic("image", image, event_dim=3)


class MorphoDigits(RenderedDataset):
    """Rendered digits with Deep SCM's thickness -> intensity SCM and every unit's noise.

    Built by :func:`morpho_digits`. ``noise`` holds, per unit: ``digit``, ``thickness``
    (the gamma draw ``g``), ``intensity`` (the normal draw ``e``), ``slant``, ``size``,
    ``shift [2]``, ``jitter [MAX_POINTS, 2]``, ``pixel_noise [1, 28, 28]``.

    Example:
        >>> md = morpho_digits(n=16, seed=0)
        >>> cf = md.counterfactual({"thickness": 3.0})
        >>> bool(torch.equal(cf["digit"], md.data["digit"])), float(cf["thickness"][0])
        (True, 3.0)
    """

    variables = ("digit", "thickness", "intensity")
    integers = frozenset({"digit"})
    graph = CausalGraph(
        {"digit": [], "thickness": [], "intensity": ["thickness"], "image": ["digit", "thickness", "intensity"]}
    )
    model = staticmethod(digits_model)
    measure = staticmethod(measure)

    def _equation(self, name, values, noise):
        if name == "digit":
            return noise["digit"].clone()
        if name == "thickness":
            return 0.5 + noise["thickness"]
        return _intensity(values["thickness"], noise["intensity"])

    def _check_support(self, name, value):
        if name == "digit":
            bad = (value < 0) | (value > 9)
            need = "an integer in 0..9"
        elif name == "thickness":
            bad = ~torch.isfinite(value) | (value <= 0)
            need = "a finite stroke width > 0 (pixels)"
        else:
            bad = ~torch.isfinite(value) | (value <= 0) | (value > 1)
            need = "in (0, 1] (intensity / 255)"
        if bool(bad.any()):
            return f"each value must be {need}; {int(bad.sum())} are not, e.g. {value[bad][0].item()!r}"
        return None

    def _render(self, values, noise):
        return render_digits(
            values["digit"],
            values["thickness"],
            values["intensity"],
            noise["slant"],
            noise["size"],
            noise["shift"],
            noise["jitter"],
            noise["pixel_noise"],
        )


def morpho_digits(n: int = 10_000, seed: int | None = 0) -> MorphoDigits:
    """``n`` digit images with thickness, intensity and digit label, rendered in-process.

    Args:
        n: number of units.
        seed: the same seed gives the same dataset, bit for bit; ``None`` draws fresh noise.

    Returns:
        A :class:`MorphoDigits`: ``data`` (``"image" [n, 1, 28, 28]`` float32 in ``[0, 1]``,
        ``"thickness"``, ``"intensity"`` float32 ``[n]``, ``"digit"`` int64 ``[n]``),
        ``graph``, ``noise``, ``counterfactual(do, index=None)``, ``model`` and ``measure``.

    Example:
        >>> md = morpho_digits(n=100, seed=0)
        >>> md.data["image"].shape, md.data["digit"].dtype, md.graph.parents("image")
        (torch.Size([100, 1, 28, 28]), torch.int64, ['digit', 'thickness', 'intensity'])
    """
    n = checks.positive_int(n, "n")
    with seeded(checks.seed(seed)):
        one = torch.ones((), dtype=DTYPE)
        noise = {
            "digit": torch.randint(0, 10, (n,)),
            "thickness": dist.Gamma(10.0 * one, 5.0 * one).sample((n,)),
            "intensity": torch.randn(n, dtype=DTYPE),
            "slant": SLANT_SD * torch.randn(n, dtype=DTYPE),
            "size": torch.exp(SIZE_SD * torch.randn(n, dtype=DTYPE)),
            "shift": SHIFT_SD * torch.randn(n, 2, dtype=DTYPE),
            "jitter": JITTER_SD * torch.randn(n, MAX_POINTS, 2, dtype=DTYPE),
            "pixel_noise": PIXEL_NOISE_SD * torch.randn(n, 1, SIZE, SIZE, dtype=DTYPE),
        }
    return MorphoDigits(noise)
