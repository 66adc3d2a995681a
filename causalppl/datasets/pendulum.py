"""Pendulum: CausalVAE's light-and-pendulum scene, with noise on the shadow and kept per unit.

The geometry is CausalVAE's (Yang et al. 2021): a pendulum hangs from a pivot, a light
source sits on the ray through the pivot, and the shadow is the pendulum projected along
the light's rays onto the ground; the shadow's length and position (its midpoint) follow
from the two angles. The published set has no noise on the shadow, so its counterfactuals
equal interventions; here each shadow variable has its own kept noise.

Units: angles in degrees, lengths in scene units (the square image spans 22 of them; one is
``size / 22`` pixels). Pivot ``(10, 10.5)``, pendulum reaching ``9.5`` from it (a rod and a
ball of radius 1.5), light at height 18.6, ground at ``-0.8``.

* ``pendulum ~ Uniform(-36, 39.6)``: the angle from the vertical, positive to the right;
* ``light ~ Uniform(54, 133.2)``: the rays' angle from the horizontal (CausalVAE's ranges);
* ``shadow_length = max(L(pendulum, light), 0.001) * exp(0.1 u)``, ``u ~ Normal(0, 1)``, where
  ``L`` is the projected length of the pivot-to-tip segment: multiplicative noise keeps the
  length positive and invertible in ``u`` (the floor only matters for a shadow cast
  edge-on, ``L = 0``);
* ``shadow_position = M(pendulum, light) + 0.5 v``, ``v ~ Normal(0, 1)``, ``M`` its midpoint;
* ``image``: grayscale (one channel: position and gray level tell the parts apart, colour
  adds no information), ``size`` 32 or 64; pendulum at 1.0, light at 0.75, shadow at 0.5
  on black, with one-pixel soft edges, then ``pixel_noise ~ Normal(0, 0.02)`` (kept),
  clipped to ``[0, 1]``.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pyro
import pyro.distributions as dist
import torch

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph
from ..rng import seeded
from .render import DTYPE, chunked, coverage, disc_distance, pixel_centres, segment_distance
from .rendered import RenderedDataset

__all__ = ["Pendulum", "pendulum", "pendulum_model", "render_pendulum", "shadow_geometry"]

PIVOT, REACH, ROD, BALL, ROD_HALF = (10.0, 10.5), 9.5, 8.0, 1.5, 0.3
SUN_Y, SUN_R, GROUND, BAND_HALF = 18.6, 1.2, -0.8, 0.7
X_LEFT, Y_TOP, SPAN = -1.0, 20.0, 22.0
PENDULUM_RANGE, LIGHT_RANGE, PIXEL_NOISE_SD = (-36.0, 39.6), (54.0, 133.2), 0.02
LENGTH_LOG_SD, LENGTH_FLOOR, POSITION_SD = 0.1, 1e-3, 0.5
GRAY = {"pendulum": 1.0, "light": 0.75, "shadow": 0.5}


def shadow_geometry(pendulum, light) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise-free shadow ``(length, midpoint)`` of the pivot-to-tip segment, from angles in degrees.

    Example:
        >>> [round(float(v), 3) for v in shadow_geometry(torch.tensor(0.0), torch.tensor(90.0))]
        [0.0, 10.0]
    """
    th, ph = torch.deg2rad(pendulum), torch.deg2rad(light)
    cot = torch.cos(ph) / torch.sin(ph)
    tip_x, tip_y = PIVOT[0] + REACH * torch.sin(th), PIVOT[1] - REACH * torch.cos(th)
    pivot_s = PIVOT[0] - (PIVOT[1] - GROUND) * cot
    tip_s = tip_x - (tip_y - GROUND) * cot
    return (tip_s - pivot_s).abs(), 0.5 * (tip_s + pivot_s)


def render_pendulum(pendulum, light, shadow_length, shadow_position, pixel_noise) -> torch.Tensor:
    """Render scenes; any common batch shape ``B``, ``pixel_noise`` ``B + (1, size, size)``.

    Example:
        >>> z = torch.zeros(1)
        >>> img = render_pendulum(z, z + 60.0, z + 5.0, z + 8.0, torch.zeros(1, 1, 32, 32))
        >>> img.shape, float(img.max())
        (torch.Size([1, 1, 32, 32]), 1.0)
    """
    size = pixel_noise.shape[-1]
    batch = torch.broadcast_shapes(
        pendulum.shape, light.shape, shadow_length.shape, shadow_position.shape, pixel_noise.shape[:-3]
    )
    args = [v.expand(batch).reshape(-1).to(DTYPE) for v in (pendulum, light, shadow_length, shadow_position)]
    noise = pixel_noise.expand(batch + pixel_noise.shape[-3:]).reshape(-1, size * size).to(DTYPE)
    out = chunked(partial(_render, size), *args, noise, per_unit=4 * size * size)
    return out.reshape(batch + (1, size, size))


def _render(size, pendulum, light, length, position, noise) -> torch.Tensor:
    p = size / SPAN  # pixels per scene unit
    px, py = pixel_centres(size)

    def at(x, y):  # scene -> pixel coordinates, [m, 2]
        return torch.stack([(x - X_LEFT) * p, (Y_TOP - y) * p], -1)

    th, ph = torch.deg2rad(pendulum), torch.deg2rad(light)
    pivot = at(torch.full_like(th, PIVOT[0]), torch.full_like(th, PIVOT[1]))
    ball = at(PIVOT[0] + ROD * torch.sin(th), PIVOT[1] - ROD * torch.cos(th))
    rod = coverage(segment_distance(pivot[:, None], ball[:, None], px, py), ROD_HALF * p)
    bob = coverage(disc_distance(ball, torch.full_like(th, BALL * p), px, py), 0.0)
    sun_x = PIVOT[0] + (SUN_Y - PIVOT[1]) * torch.cos(ph) / torch.sin(ph)
    sun = coverage(disc_distance(at(sun_x, torch.full_like(th, SUN_Y)), torch.full_like(th, SUN_R * p), px, py), 0.0)
    # The shadow's coverage is separable, so each column sums to its share of the length.
    cx = (position[:, None] - X_LEFT) * p
    band = coverage((px - cx).abs(), 0.5 * length[:, None] * p) * coverage(
        (py - (Y_TOP - GROUND) * p).abs(), BAND_HALF * p
    )
    image = torch.maximum(GRAY["pendulum"] * torch.maximum(rod, bob), GRAY["light"] * sun)
    return (torch.maximum(image, GRAY["shadow"] * band) + noise).clamp(0.0, 1.0)


def pendulum_model(size: int = 32) -> torch.Tensor:
    """One unit of :func:`pendulum` as a plain Pyro program (``pixel_noise`` exogenous).

    Example:
        >>> import causalppl as cp
        >>> cp.graph(pendulum_model).parents("shadow_length")
        ['pendulum', 'light']
    """
    pend = pyro.sample("pendulum", dist.Uniform(*PENDULUM_RANGE))
    light = pyro.sample("light", dist.Uniform(*LIGHT_RANGE))
    length, mid = shadow_geometry(pend, light)
    shadow_length = pyro.sample("shadow_length", dist.LogNormal(length.clamp_min(LENGTH_FLOOR).log(), LENGTH_LOG_SD))
    shadow_position = pyro.sample("shadow_position", dist.Normal(mid, POSITION_SD))
    noise = pyro.sample(
        "pixel_noise", dist.Normal(0.0, PIXEL_NOISE_SD).expand([1, size, size]).to_event(3), infer={"exogenous": True}
    )
    return pyro.deterministic("image", render_pendulum(pend, light, shadow_length, shadow_position, noise), event_dim=3)


class Pendulum(RenderedDataset):
    """Rendered pendulum scenes with every unit's noise; built by :func:`pendulum`.

    ``noise`` holds, per unit: ``pendulum`` and ``light`` (the uniform draws),
    ``shadow_length`` and ``shadow_position`` (the standard normal draws ``u``, ``v``) and
    ``pixel_noise [1, size, size]``. ``model`` is :func:`pendulum_model` at this size.

    Example:
        >>> pd = pendulum(n=8, seed=0)
        >>> cf = pd.counterfactual({"light": 90.0})
        >>> bool(torch.equal(cf["pendulum"], pd.data["pendulum"]))
        True
        >>> bool((cf["shadow_length"] != pd.data["shadow_length"]).all())
        True
    """

    variables = ("pendulum", "light", "shadow_length", "shadow_position")
    graph = CausalGraph(
        {
            "pendulum": [],
            "light": [],
            "shadow_length": ["pendulum", "light"],
            "shadow_position": ["pendulum", "light"],
            "image": ["pendulum", "light", "shadow_length", "shadow_position"],
        }
    )

    def __init__(self, noise, size: int):
        self.size = size
        self.model = partial(pendulum_model, size=size)
        super().__init__(noise)

    def _equation(self, name, values, noise):
        if name in ("pendulum", "light"):
            return noise[name].clone()
        length, mid = shadow_geometry(values["pendulum"], values["light"])
        if name == "shadow_length":
            return length.clamp_min(LENGTH_FLOOR) * torch.exp(LENGTH_LOG_SD * noise[name])
        return mid + POSITION_SD * noise[name]

    def _check_support(self, name, value):
        finite = torch.isfinite(value)
        bad, need = {
            "pendulum": (~finite | (value.abs() >= 90), "an angle in (-90, 90) degrees (the ball below the pivot)"),
            "light": (~finite | (value <= 0) | (value >= 180), "an angle in (0, 180) degrees (light above the ground)"),
            "shadow_length": (~finite | (value < 0), "a finite length >= 0"),
            "shadow_position": (~finite, "a finite position"),
        }[name]
        if bool(bad.any()):
            return f"each value must be {need}; {int(bad.sum())} are not, e.g. {value[bad][0].item()!r}"
        return None

    def _render(self, values, noise):
        return render_pendulum(
            values["pendulum"],
            values["light"],
            values["shadow_length"],
            values["shadow_position"],
            noise["pixel_noise"],
        )

    def measure(self, images) -> dict[str, torch.Tensor]:
        """The four variables read back from pixels, by where each part is drawn.

        Pendulum angle: from the pivot to the centroid of the pendulum's pixels (the rod and
        ball are symmetric about their axis). Light angle: from the pivot to the centroid of
        the light's pixels. Shadow: its columns' values on the rows the band covers fully,
        summed (length) and as weights of a centroid (position). Pixels below three noise
        sds are dropped first. A shadow partly out of the frame is measured short, and a
        shadow of length 0 has no position (NaN).

        Mean absolute error (95th percentile) on 500 factual units of ``pendulum(n=500,
        seed=7)``: at 32 px, pendulum 0.12 (0.34) degrees, light 0.15 (0.63) degrees,
        shadow length 0.07 (0.18) and position 0.04 (0.11) scene units, position NaN for
        0.6% (shadows shorter than about a tenth of a unit); at 64 px, 0.06 (0.17), 0.09
        (0.27), 0.027 (0.068) and 0.02 (0.09), 0.2% NaN.

        Example:
            >>> pd = pendulum(n=50, seed=0)
            >>> m = pd.measure(pd.data["image"])
            >>> bool((m["pendulum"] - pd.data["pendulum"]).abs().median() < 1.0)
            True
        """
        return _measure(images, self.size)


def _measure(images, size: int) -> dict[str, torch.Tensor]:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().double().numpy()
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1:] != (1, size, size) or not np.all(np.isfinite(arr)):
        raise CausalError(f"images must be finite with shape [n, 1, {size}, {size}], got {arr.shape}")
    img = np.where(arr[:, 0] > 3 * PIXEL_NOISE_SD, arr[:, 0], 0.0)
    p = size / SPAN
    x = X_LEFT + (np.arange(size) + 0.5) / p
    y = Y_TOP - (np.arange(size) + 0.5) / p
    rows_sun, rows_pend = y > 14.0, (y > 0.45) & (y <= 14.0)
    rows_band = np.abs(y - GROUND) * p <= BAND_HALF * p - 0.5  # the rows the shadow covers fully

    def centroid(rows):
        w = img[:, rows]
        mass = w.sum((1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w.sum(1) @ x) / mass, (w.sum(2) @ y[rows]) / mass

    sx, _ = centroid(rows_sun)
    cx, cy = centroid(rows_pend)
    peak = img[:, rows_band].mean(1) / GRAY["shadow"]
    with np.errstate(invalid="ignore", divide="ignore"):
        position = (peak @ x) / peak.sum(1)
    out = {
        "pendulum": np.degrees(np.arctan2(cx - PIVOT[0], PIVOT[1] - cy)),
        "light": np.degrees(np.arctan2(SUN_Y - PIVOT[1], sx - PIVOT[0])),
        "shadow_length": peak.sum(1) / p,
        "shadow_position": position,
    }
    return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in out.items()}


def pendulum(n: int = 10_000, seed: int | None = 0, size: int = 32) -> Pendulum:
    """``n`` pendulum scenes with their four variables, rendered in-process.

    Args:
        n: number of units.
        seed: the same seed gives the same dataset, bit for bit; ``None`` draws fresh noise.
        size: image side in pixels, 32 or 64.

    Returns:
        A :class:`Pendulum`: ``data`` (``"image" [n, 1, size, size]`` float32 in ``[0, 1]``,
        ``"pendulum"``, ``"light"``, ``"shadow_length"``, ``"shadow_position"`` float32
        ``[n]``), ``graph``, ``noise``, ``counterfactual(do, index=None)``, ``model``, ``measure``.

    Example:
        >>> pd = pendulum(n=10, seed=0, size=64)
        >>> pd.data["image"].shape, pd.graph.parents("shadow_position")
        (torch.Size([10, 1, 64, 64]), ['pendulum', 'light'])
    """
    n = checks.positive_int(n, "n")
    if checks.positive_int(size, "size") not in (32, 64):
        raise CausalError(f"size must be 32 or 64 (pixels), got {size!r}")
    with seeded(checks.seed(seed)):
        (a, b), (c, d) = PENDULUM_RANGE, LIGHT_RANGE
        noise = {
            "pendulum": a + (b - a) * torch.rand(n, dtype=DTYPE),
            "light": c + (d - c) * torch.rand(n, dtype=DTYPE),
            "shadow_length": torch.randn(n, dtype=DTYPE),
            "shadow_position": torch.randn(n, dtype=DTYPE),
            "pixel_noise": PIXEL_NOISE_SD * torch.randn(n, 1, size, size, dtype=DTYPE),
        }
    return Pendulum(noise, int(size))
