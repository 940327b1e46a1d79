"""Three aligned layers (photo, label ids, instance ids) and vectorised shape rasterisation."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PIL import Image


class Region(NamedTuple):
    """Pixels of a shape: `mask` `(h, w)` over the box `rows x cols` of the image.

    `v` `(h, 1)` and `u` `(1, w)` are the pixel-centre coordinates of the box, for shading.
    """

    rows: slice
    cols: slice
    mask: np.ndarray
    v: np.ndarray
    u: np.ndarray

    def without(self, other: Region | None) -> Region:
        """These pixels less those of `other` (a region of the same canvas): a tyre is a disc
        less its spokes."""
        if other is None:
            return self
        mask = self.mask.copy()
        rows = slice(max(other.rows.start, self.rows.start), min(other.rows.stop, self.rows.stop))
        cols = slice(max(other.cols.start, self.cols.start), min(other.cols.stop, self.cols.stop))
        if rows.start < rows.stop and cols.start < cols.stop:
            theirs = other.mask[
                rows.start - other.rows.start : rows.stop - other.rows.start,
                cols.start - other.cols.start : cols.stop - other.cols.start,
            ]
            mask[
                rows.start - self.rows.start : rows.stop - self.rows.start,
                cols.start - self.cols.start : cols.stop - self.cols.start,
            ] &= ~theirs
        return self._replace(mask=mask)


class Canvas:
    """The photo `(H, W, 3)` float32 (0..1) and instance ids `(H, W)` int32 of one frame, painted
    together so they can never disagree. Instance ids follow Cityscapes (`label * 1000 + k` on
    things, the label id elsewhere), so they also hold the label ids (`label_ids`)."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.photo = np.zeros((height, width, 3), dtype=np.float32)
        self.instance = np.zeros((height, width), dtype=np.int32)
        self._v = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
        self._u = (np.arange(width, dtype=np.float32) + 0.5)[None, :]

    def box(self, u0: float, u1: float, v0: float, v1: float) -> Region | None:
        """All pixels whose centres lie in `[u0, u1] x [v0, v1]` (None if none do)."""
        c0, c1 = max(math.ceil(u0 - 0.5), 0), min(math.floor(u1 - 0.5) + 1, self.width)
        r0, r1 = max(math.ceil(v0 - 0.5), 0), min(math.floor(v1 - 0.5) + 1, self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        mask = np.ones((r1 - r0, c1 - c0), bool)
        return Region(slice(r0, r1), slice(c0, c1), mask, self._v[r0:r1], self._u[:, c0:c1])

    def polygon(self, points: list[tuple[float, float]]) -> Region | None:
        """The pixels whose centres lie inside the convex polygon with vertices `(u, v)`."""
        us, vs = [p[0] for p in points], [p[1] for p in points]
        box = self.box(min(us), max(us), min(vs), max(vs))
        if box is None:
            return None
        return box._replace(mask=_inside(box, points))

    def ellipse(self, cu: float, cv: float, ru: float, rv: float) -> Region | None:
        """The pixels whose centres lie inside the axis-aligned ellipse."""
        box = self.box(cu - ru, cu + ru, cv - rv, cv + rv)
        if box is None or ru <= 0 or rv <= 0:
            return None
        mask = ((box.u - cu) / ru) ** 2 + ((box.v - cv) / rv) ** 2 <= 1.0
        return box._replace(mask=mask)

    def label_ids(self) -> np.ndarray:
        """The label ids `(H, W)` uint8 of the painted instances."""
        ids = self.instance
        return np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)

    def paint(self, region: Region | None, colour: np.ndarray, instance: int) -> None:
        """Set the photo to `colour` (`(3,)`, `(h, 1, 3)` or `(h, w, 3)`) and the instance id to
        `instance` (a label id for stuff) inside `region`."""
        if region is None:
            return
        photo = self.photo[region.rows, region.cols]
        if colour.ndim == 1:
            photo[region.mask] = colour
        else:
            photo[region.mask] = np.broadcast_to(colour, photo.shape)[region.mask]
        self.instance[region.rows, region.cols][region.mask] = instance

    def tint(self, region: Region | None, colour: np.ndarray, alpha: float, instance: int) -> None:
        """Blend `colour` `(3,)` over the photo with opacity `alpha` and set the instance id inside
        `region`: see-through parts, such as a spoked wheel, labelled as their object."""
        if region is None:
            return
        photo = self.photo[region.rows, region.cols]
        photo[region.mask] = photo[region.mask] * (1.0 - alpha) + colour * alpha
        self.instance[region.rows, region.cols][region.mask] = instance

    def darken(self, region: Region | None, factor: float) -> None:
        """Multiply the photo inside `region` by `factor` (shadows; labels are unchanged)."""
        if region is not None:
            self.photo[region.rows, region.cols][region.mask] *= factor


def _inside(box: Region, points: list[tuple[float, float]]) -> np.ndarray:
    """Which pixel centres of `box` lie inside the convex polygon `points` `(u, v)`: `(h, w)`."""
    # edge i from p_i to p_i+1 keeps the pixels with a v - b u + c >= 0 (counter-clockwise)
    coefficients, area = [], 0.0
    for (u0, v0), (u1, v1) in zip(points, points[1:] + points[:1], strict=True):
        coefficients.append((u1 - u0, v1 - v0, (v1 - v0) * u0 - (u1 - u0) * v0))
        area += u0 * v1 - u1 * v0
    a, b, c = (
        np.array(k, dtype=np.float32)[:, None, None] for k in zip(*coefficients, strict=True)
    )
    side = a * box.v - b * box.u + c  # (N, h, w)
    return np.all(side >= 0 if area >= 0 else side <= 0, axis=0)


def grain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Per-pixel texture noise, float32, zero mean and unit variance (uniform: several times
    cheaper to draw than Gaussian, and the eye cannot tell them apart)."""
    noise = rng.random(shape, dtype=np.float32)
    noise -= 0.5
    noise *= np.float32(12**0.5)
    return noise


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]
) -> np.ndarray:
    """Value noise `(H, W)` float32, about unit variance: a `cells` grid of Gaussian values
    interpolated bicubically."""
    grid = rng.standard_normal((cells[0] + 1, cells[1] + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((shape[1], shape[0]), Image.Resampling.BICUBIC))


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int], octaves: int = 3
) -> np.ndarray:
    """Sum of `octaves` value noises, each with twice the cells and half the amplitude."""
    total = np.zeros(shape, dtype=np.float32)
    for octave in range(octaves):
        scale = 2**octave
        total += smooth_noise(rng, shape, (cells[0] * scale, cells[1] * scale)) / scale
    return total
