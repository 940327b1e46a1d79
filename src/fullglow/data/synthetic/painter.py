"""Painting the parts of a thing: projected boxes, planar polygons, rods and discs, shaded by the
scene's light and fogged by distance, on the photo and the instance layer at once."""

from __future__ import annotations

import math

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, Region
from fullglow.data.synthetic.style import Style, jitter

Point = tuple[float, float, float]

DETAIL_PIXELS = 14.0  # things shorter than this on screen are drawn without their details
MIN_ROD_PIXELS = 1.2  # rods are at least this thick on screen, so they never break into dots


class Painter:
    """Draws the parts of one thing at depth `z`, fogged by distance, as one instance (a label
    id for stuff, `label * 1000 + k` for things)."""

    def __init__(
        self, canvas: Canvas, camera: Camera, style: Style, z: float, instance: int
    ) -> None:
        self.canvas, self.camera, self.style = canvas, camera, style
        self.instance = instance
        self.fog = 1.0 - float(np.exp(-z / style.fog_distance))

    def tone(self, colour: np.ndarray) -> np.ndarray:
        return colour * (1.0 - self.fog) + self.style.haze * self.fog

    def polygon(self, points: list[Point]) -> Region | None:
        """The pixels of a planar convex polygon given by its world points."""
        return self.canvas.polygon([self.camera.point(*p) for p in points])

    def rod(self, a: Point, b: Point, width: float) -> Region | None:
        """A rod of diameter `width` metres from `a` to `b`, drawn as a screen-space quad at least
        `MIN_ROD_PIXELS` thick whose ends reach half its width past `a` and `b`, so that rods
        chained end to end always join."""
        camera = self.camera
        ua, va = camera.point(*a)
        ub, vb = camera.point(*b)
        length = math.hypot(ub - ua, vb - va)
        tu, tv = ((ub - ua) / length, (vb - va) / length) if length > 1e-6 else (0.0, 1.0)
        corners = []
        for u, v, z, sign in ((ua, va, a[2], -1.0), (ub, vb, b[2], 1.0)):
            # half extents, across and along, of the ellipse a ball of diameter `width` projects to
            across = 0.5 * width / z * math.hypot(camera.fx * tv, camera.fy * tu)
            along = 0.5 * width / z * math.hypot(camera.fx * tu, camera.fy * tv)
            across = max(across, 0.5 * MIN_ROD_PIXELS)
            along = max(along, 0.5 * MIN_ROD_PIXELS)
            u, v = u + sign * along * tu, v + sign * along * tv
            corners.append(((u + across * tv, v - across * tu), (u - across * tv, v + across * tu)))
        (a_left, a_right), (b_left, b_right) = corners
        return self.canvas.polygon([a_left, b_left, b_right, a_right])

    def ellipse(self, centre: Point, rx: float, ry: float) -> Region | None:
        u, v = self.camera.point(*centre)
        z = centre[2]
        return self.canvas.ellipse(u, v, self.camera.fx * rx / z, self.camera.fy * ry / z)

    def fill(
        self, region: Region | None, colour: np.ndarray, top: float = 1.0, bottom: float = 1.0
    ) -> None:
        """Paint `colour`, brightness ramping from `top` to `bottom` down the region."""
        if region is None:
            return
        if top == bottom:
            shaded = colour * top
        else:
            v = region.v
            ramp = (v - v[0, 0]) / max(float(v[-1, 0] - v[0, 0]), 1.0)
            shaded = colour * (top + (bottom - top) * ramp)[..., None]  # (h, 1, 3)
        self.canvas.paint(region, self.tone(shaded), self.instance)

    def shadow(self, x0: float, x1: float, z0: float, z1: float, factor: float) -> None:
        """Darken the ground under a rectangular footprint (the labels there stay the ground's)."""
        region = self.polygon([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)])
        self.canvas.darken(region, factor)

    def round_shadow(self, x: float, z: float, rx: float, rz: float, factor: float) -> None:
        """Darken an elliptical patch of ground (a 12-gon) centred on `(x, 0, z)`."""
        angles = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
        xs, zs = (x + rx * np.cos(angles)).tolist(), (z + rz * np.sin(angles)).tolist()
        region = self.polygon([(a, 0.0, b) for a, b in zip(xs, zs, strict=True)])
        self.canvas.darken(region, factor)


def circle(
    centre: Point, forward: tuple[float, float], radius: float, sides: int = 12
) -> list[Point]:
    """A vertical circle (a wheel) about `centre`, in the plane of the horizontal unit vector
    `forward = (dx, dz)`, as a regular polygon of `sides` world points."""
    angles = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    along, up = (radius * np.cos(angles)).tolist(), (radius * np.sin(angles)).tolist()
    x, y, z = centre
    dx, dz = forward
    return [(x + a * dx, y + b, z + a * dz) for a, b in zip(along, up, strict=True)]


def upright(x0: float, x1: float, y0: float, y1: float, z: float) -> list[Point]:
    """The rectangle `[x0, x1] x [y0, y1]` in the plane facing the camera at depth `z`."""
    return [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]


def lengthwise(x: float, y0: float, y1: float, z0: float, z1: float) -> list[Point]:
    """The rectangle `[y0, y1] x [z0, z1]` in the plane `X = x`, near edge first."""
    return [(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)]


def patch(corners: list[Point], s0: float, s1: float, t0: float, t1: float) -> list[Point]:
    """The sub-rectangle `[s0, s1] x [t0, t1]` of a planar quad given as
    `(bottom-left, bottom-right, top-right, top-left)` corners."""
    s = np.array([s0, s1, s1, s0])[:, None]
    t = np.array([t0, t0, t1, t1])[:, None]
    weights = np.hstack([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])  # bilinear, (4, 4)
    return [tuple(p) for p in (weights @ np.array(corners)).tolist()]


class Box:
    """An axis-aligned box `[x0, x1] x [y0, y1] x [z0, z1]` in front of the camera."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> None:
        self.x0, self.x1, self.y0, self.y1, self.z0, self.z1 = x0, x1, y0, y1, z0, z1

    def front(self) -> list[Point]:
        return upright(self.x0, self.x1, self.y0, self.y1, self.z0)

    def side(self) -> tuple[list[Point], float] | None:
        """The side face the camera sees (near edge first) and its normal's X sign."""
        if self.x1 < 0:
            x, normal = self.x1, 1.0
        elif self.x0 > 0:
            x, normal = self.x0, -1.0
        else:
            return None
        return lengthwise(x, self.y0, self.y1, self.z0, self.z1), normal

    def top(self, eye: float) -> list[Point] | None:
        if self.y1 >= eye:
            return None
        x0, x1, y, z0, z1 = self.x0, self.x1, self.y1, self.z0, self.z1
        return [(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]


def side_light(style: Style, normal: float) -> float:
    return style.lit if normal * style.sun_side > 0 else style.shade


def glass_colour(style: Style, rng: np.random.Generator) -> np.ndarray:
    return jitter(rng, style.window * 0.7 + 0.25 * style.sky_horizon, 0.04)


def draw_box(
    painter: Painter, box: Box, colour: np.ndarray, front_light: float
) -> tuple[list[Point], list[Point] | None]:
    """Paint the box's visible faces; returns the front face and the visible side face."""
    style = painter.style
    side = box.side()
    if side is not None:
        painter.fill(painter.polygon(side[0]), colour * side_light(style, side[1]), 1.05, 0.8)
    top = box.top(painter.camera.eye)
    if top is not None:
        painter.fill(painter.polygon(top), colour * 1.1 * style.lit)
    painter.fill(painter.polygon(box.front()), colour * front_light, 1.05, 0.8)
    return box.front(), side[0] if side is not None else None
