"""Bicycles and motorcycles, and the riders on them.

A two-wheeler is built in its own frame, `f` metres forward, `s` to its right and `y` up, which
its heading maps to the world (`_Frame`). Its parts and its rider's are collected with their
depths and painted far to near, so that from behind the rider covers the front wheel and the rear
wheel covers the rider's shins, and the other way round when it comes towards the camera. Thin
parts are rods at least a pixel thick, so a bicycle far away stays one connected shape; the rider
(label `rider`, its own instance) sits on the saddle with its feet on the pedals and its hands on
the handlebar, so its pixels always touch its vehicle's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, Region
from fullglow.data.synthetic.painter import DETAIL_PIXELS, Box, Painter, Point, circle, draw_box
from fullglow.data.synthetic.style import SKIN_PALETTE, Style, grey, pick
from fullglow.data.synthetic.things import BICYCLE, MOTORCYCLE, Rider, TwoWheeler

_BICYCLE_PALETTE = (
    (0.08, 0.08, 0.09),
    (0.75, 0.1, 0.1),
    (0.1, 0.25, 0.6),
    (0.82, 0.82, 0.84),
    (0.1, 0.45, 0.35),
    (0.9, 0.55, 0.1),
    (0.35, 0.35, 0.38),
)
_MOTORCYCLE_PALETTE = (
    (0.05, 0.05, 0.06),
    (0.7, 0.05, 0.05),
    (0.9, 0.9, 0.9),
    (0.1, 0.2, 0.55),
    (0.95, 0.6, 0.05),
    (0.2, 0.45, 0.15),
    (0.55, 0.55, 0.58),
)
_CYCLING_CLOTHES = (  # hi-vis and sports colours beside everyday ones
    (0.85, 0.95, 0.15),
    (0.95, 0.45, 0.1),
    (0.1, 0.1, 0.12),
    (0.2, 0.35, 0.7),
    (0.8, 0.1, 0.15),
    (0.9, 0.9, 0.9),
    (0.25, 0.4, 0.25),
)
_LEATHERS = ((0.05, 0.05, 0.05), (0.25, 0.15, 0.08), (0.15, 0.15, 0.18), (0.7, 0.1, 0.1))
_HELMETS = (
    (0.9, 0.9, 0.92),
    (0.05, 0.05, 0.06),
    (0.8, 0.1, 0.1),
    (0.15, 0.3, 0.7),
    (0.85, 0.85, 0.1),
    (0.6, 0.6, 0.62),
)

_TYRE = np.full(3, 0.05)
_CHROME = np.full(3, 0.62)


class _Frame:
    """Maps the vehicle's frame `(f, s, y)` to world points; `(x, z)` is its centre on the ground."""

    def __init__(self, x: float, z: float, forward: tuple[float, float]) -> None:
        self.x, self.z, self.forward = x, z, forward

    def __call__(self, f: float, s: float, y: float) -> Point:
        dx, dz = self.forward
        return (self.x + f * dx + s * dz, y, self.z + f * dz - s * dx)

    def box(self, f: tuple[float, float], s: tuple[float, float], y: tuple[float, float]) -> Box:
        """The world box of `f[0]..f[1] x s[0]..s[1] x y[0]..y[1]` (headings are axis-aligned)."""
        corners = [self(a, b, 0.0) for a in f for b in s]
        xs, zs = [c[0] for c in corners], [c[2] for c in corners]
        return Box(min(xs), max(xs), y[0], y[1], min(zs), max(zs))

    def camera_side(self, width: float) -> float:
        """The `s` (`±width / 2`) of the vehicle's side that faces the camera."""
        dx, dz = self.forward
        # the side `s > 0` faces along (dz, -dx); it shows when that points towards the camera
        toward = -(self.x * dz - self.z * dx)
        return width / 2 if toward > 0 else -width / 2


class _Parts:
    """Parts of one thing with their depths, painted far to near (ties in the order added)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, Callable[[], None]]] = []

    def add(self, depth: float, paint: Callable[[], None]) -> None:
        self.items.append((-depth, len(self.items), paint))

    def paint(self) -> None:
        for _, _, paint in sorted(self.items, key=lambda item: item[:2]):
            paint()


def _paint(painter: Painter, region: Region | None, colour: np.ndarray) -> Callable[[], None]:
    return lambda: painter.fill(region, colour)


def _box(painter: Painter, box: Box, colour: np.ndarray, light: float) -> Callable[[], None]:
    return lambda: draw_box(painter, box, colour, light)


def _layers(painter: Painter, layers: list[tuple[Region | None, np.ndarray]]) -> Callable[[], None]:
    def paint() -> None:
        for region, colour in layers:
            painter.fill(region, colour)

    return paint


def _wheel(
    parts: _Parts,
    painter: Painter,
    frame: _Frame,
    axle: float,
    radius: float,
    tyre_width: float,
    spoked: bool,
) -> None:
    """A wheel in the vehicle's plane: a see-through spoked wheel with a tyre, or a solid one with
    a brake disc; seen from behind or ahead, its tread is a rod."""
    side = frame.camera_side(tyre_width)
    centre = frame(axle, side, radius)
    forward = frame.forward
    depth = frame(axle, 0.0, 0.0)[2]
    style = painter.style
    sides = 12 if painter.camera.fy * radius / depth > 6.0 else 8  # fewer when a few pixels
    wheel = painter.polygon(circle(centre, forward, radius, sides))
    if wheel is not None and spoked:
        spokes = painter.polygon(circle(centre, forward, 0.86 * radius, sides))
        tyre = wheel.without(spokes)
        spoke_colour = painter.tone(np.full(3, 0.55) * style.lit)
        parts.add(depth, lambda: painter.canvas.tint(spokes, spoke_colour, 0.3, painter.instance))
        parts.add(depth, _paint(painter, tyre, _TYRE))
    elif wheel is not None:
        parts.add(depth, _paint(painter, wheel, _TYRE))
        disc = painter.polygon(circle(centre, forward, 0.6 * radius, sides=8))
        parts.add(depth, _paint(painter, disc, _CHROME * style.shade))
    if forward[0] == 0.0:  # along the street: the tread faces the camera
        tread = painter.rod(frame(axle, 0.0, 0.0), frame(axle, 0.0, 2 * radius), tyre_width)
        parts.add(depth, _paint(painter, tread, _TYRE))


def _rod(
    parts: _Parts, painter: Painter, a: Point, b: Point, width: float, colour: np.ndarray
) -> None:
    parts.add(0.5 * (a[2] + b[2]), _paint(painter, painter.rod(a, b, width), colour))


def _bicycle(
    parts: _Parts, painter: Painter, frame: _Frame, crank: float, rng: np.random.Generator
) -> tuple[tuple[Point, Point], tuple[Point, Point]]:
    """A diamond frame on two spoked wheels; returns the pedals and the handlebar's grips (left,
    right), where the rider's feet and hands go."""
    light = painter.style.lit
    paint = pick(rng, _BICYCLE_PALETTE, 0.05) * light
    dark = grey(rng, 0.05, 0.15) * light
    radius = 0.34
    for axle in (-0.52, 0.53):
        _wheel(parts, painter, frame, axle, radius, 0.045, spoked=True)
    rear, front = frame(-0.52, 0.0, radius), frame(0.53, 0.0, radius)
    bracket, seat = frame(-0.06, 0.0, 0.28), frame(-0.24, 0.0, 0.86)
    head_top, head_bottom = frame(0.37, 0.0, 1.02), frame(0.42, 0.0, 0.75)
    for a, b in ((rear, bracket), (rear, seat), (seat, head_top)):
        _rod(parts, painter, a, b, 0.035, paint)
    _rod(parts, painter, bracket, frame(-0.27, 0.0, 0.95), 0.035, paint)  # seat tube and post
    _rod(parts, painter, bracket, head_bottom, 0.045, paint)
    _rod(parts, painter, head_top, front, 0.04, paint)
    _rod(parts, painter, frame(-0.37, 0.0, 0.96), frame(-0.17, 0.0, 0.96), 0.09, dark)  # saddle
    bar = (frame(0.35, -0.29, 1.03), frame(0.35, 0.29, 1.03))
    _rod(parts, painter, *bar, 0.03, dark)
    pedals = []
    for side, angle in ((-1.0, crank), (1.0, crank + math.pi)):  # crank and pedal as one rod
        f, y = -0.06 + 0.17 * math.cos(angle), 0.28 + 0.17 * math.sin(angle)
        _rod(parts, painter, frame(-0.06, side * 0.04, 0.28), frame(f, side * 0.17, y), 0.04, dark)
        pedals.append(frame(f, side * 0.13, y))
    return (pedals[0], pedals[1]), bar


def _motorcycle(
    parts: _Parts, painter: Painter, frame: _Frame, rng: np.random.Generator
) -> tuple[tuple[Point, Point], tuple[Point, Point]]:
    """Engine, tank, seat and tail on two solid wheels, a fork, handlebar and mirrors; returns the
    footpegs and the grips (left, right)."""
    style = painter.style
    light = 0.5 * (style.lit + style.shade)
    paint = pick(rng, _MOTORCYCLE_PALETTE, 0.05)
    metal = grey(rng, 0.2, 0.35)
    radius = 0.31
    for axle in (-0.7, 0.72):
        _wheel(parts, painter, frame, axle, radius, 0.13, spoked=False)
    boxes = (
        ((-0.3, 0.35), (-0.21, 0.21), (0.25, 0.66), metal),  # engine
        ((0.0, 0.45), (-0.17, 0.17), (0.66, 0.95), paint),  # tank
        ((-0.62, 0.0), (-0.15, 0.15), (0.72, 0.86), np.full(3, 0.06)),  # seat
        ((-0.95, -0.55), (-0.11, 0.11), (0.6, 0.8), paint),  # tail
        ((0.55, 0.68), (-0.1, 0.1), (0.82, 1.05), np.full(3, 0.08)),  # headlamp
    )
    for f, s, y, colour in boxes:
        box = frame.box(f, s, y)
        parts.add(0.5 * (box.z0 + box.z1), _box(painter, box, colour, light))
    lamp = frame.box((0.68, 0.69), (-0.06, 0.06), (0.88, 0.98))
    lamp_colour = np.array([1.0, 0.95, 0.8]) if frame.forward[1] < 0 else _CHROME
    tail = frame.box((-0.96, -0.95), (-0.07, 0.07), (0.68, 0.76))
    tail_colour = np.array([0.75, 0.04, 0.03])
    for box, colour in ((lamp, lamp_colour), (tail, tail_colour)):
        parts.add(box.z0, _paint(painter, painter.polygon(box.front()), colour))
    exhaust = frame.camera_side(0.44)
    _rod(parts, painter, frame(-0.25, exhaust, 0.33), frame(-0.85, exhaust, 0.5), 0.09, _CHROME)
    for side in (-1.0, 1.0):
        _rod(
            parts,
            painter,
            frame(0.52, side * 0.08, 1.0),
            frame(0.72, side * 0.08, radius),
            0.05,
            _CHROME,
        )
        _rod(
            parts,
            painter,
            frame(0.45, side * 0.3, 1.07),
            frame(0.42, side * 0.36, 1.24),
            0.02,
            metal,
        )
        mirror = painter.ellipse(frame(0.42, side * 0.36, 1.25), 0.06, 0.04)
        parts.add(frame(0.42, 0.0, 0.0)[2], _paint(painter, mirror, metal))
    bar = (frame(0.45, -0.38, 1.07), frame(0.45, 0.38, 1.07))
    _rod(parts, painter, *bar, 0.035, np.full(3, 0.06))
    pegs = (frame(-0.12, -0.24, 0.38), frame(-0.12, 0.24, 0.38))
    return pegs, bar


class _Pose(NamedTuple):
    """Where a rider's body meets the vehicle: the hips `(f, y)` on the seat, the torso's lean
    forward from the vertical (radians), the feet and the hands (left, right; world points)."""

    hip: tuple[float, float]
    lean: float
    feet: tuple[Point, Point]
    grips: tuple[Point, Point]


def _knee(hip: Point, foot: Point, frame: _Frame, limb: float) -> Point:
    """The knee of a leg of two `limb`-long segments from `hip` to `foot`, bent forward."""
    dx, dz = frame.forward
    hip_f, foot_f = hip[0] * dx + hip[2] * dz, foot[0] * dx + foot[2] * dz  # world -> forward
    df, dy = foot_f - hip_f, foot[1] - hip[1]
    reach = math.hypot(df, dy)
    bend = math.sqrt(max(limb * limb - reach * reach / 4, 0.0)) / max(reach, 1e-6)
    # the perpendicular (-dy, df) / reach points forward and up for a foot below the hip
    side_f, side_y = -dy * bend, df * bend
    if side_f < 0:
        side_f, side_y = -side_f, -side_y
    mid = [(a + b) / 2 for a, b in zip(hip, foot, strict=True)]
    return (mid[0] + side_f * dx, mid[1] + side_y, mid[2] + side_f * dz)


def _rider(
    parts: _Parts,
    painter: Painter,
    frame: _Frame,
    rider: Rider,
    pose: _Pose,
    motorcyclist: bool,
    rng: np.random.Generator,
) -> None:
    """A seated rider: legs from the hips to the feet, a torso leaning to the handlebar, arms to
    the grips, a neck and a head (in a helmet or not)."""
    style = painter.style
    k = rider.height / 1.75
    light = 0.5 * (style.lit + style.shade)
    jacket = pick(rng, _LEATHERS if motorcyclist else _CYCLING_CLOTHES, 0.06) * light
    trousers = pick(rng, _LEATHERS, 0.05) * light if motorcyclist else grey(rng, 0.08, 0.5) * light
    skin = pick(rng, SKIN_PALETTE, 0.04) * light
    hip_f, hip_y = pose.hip
    torso = 0.55 * k
    top_f, top_y = hip_f + torso * math.sin(pose.lean), hip_y + torso * math.cos(pose.lean)
    for side, foot, grip in zip((-1.0, 1.0), pose.feet, pose.grips, strict=True):
        hip = frame(hip_f, side * 0.1 * k, hip_y)
        knee = _knee(hip, foot, frame, 0.47 * k)
        _rod(parts, painter, hip, knee, 0.15 * k, trousers)
        _rod(parts, painter, knee, foot, 0.11 * k, trousers * 0.9)
        shoulder = frame(top_f, side * 0.18 * k, top_y - 0.04 * k)
        _rod(parts, painter, shoulder, grip, 0.085 * k, jacket * 0.9)
    corners = [
        frame(hip_f, -0.15 * k, hip_y),
        frame(hip_f, 0.15 * k, hip_y),
        frame(top_f, 0.2 * k, top_y),
        frame(top_f, -0.2 * k, top_y),
    ]
    body = painter.polygon(corners)
    parts.add(0.25 * sum(c[2] for c in corners), lambda: painter.fill(body, jacket, 1.1, 0.85))
    head_f, head_y = top_f + 0.07 * k, top_y + 0.17 * k
    head = frame(head_f, 0.0, head_y)
    _rod(parts, painter, frame(top_f, 0.0, top_y), head, 0.09 * k, skin)
    facing = frame.forward[1] < 0  # its face is towards the camera
    hair = grey(rng, 0.05, 0.35)
    layers = [(head, 0.1 * k, 0.12 * k, skin if facing else hair)]
    if rider.helmet:
        helmet = pick(rng, _HELMETS, 0.05) * style.lit
        size = 0.14 if motorcyclist else 0.115
        layers.append((frame(head_f, 0.0, head_y + 0.03 * k), size * k, size * k, helmet))
        if motorcyclist and facing:
            visor = frame(head_f, 0.0, head_y + 0.02 * k)
            layers.append((visor, 0.1 * k, 0.05 * k, np.full(3, 0.05)))
    elif facing:
        layers.append((frame(head_f, 0.0, head_y + 0.06 * k), 0.1 * k, 0.07 * k, hair))
    regions = [(painter.ellipse(c, rx, ry), colour) for c, rx, ry, colour in layers]
    parts.add(head[2], _layers(painter, regions))


def _far(painter: Painter, frame: _Frame, vehicle: TwoWheeler, rng: np.random.Generator) -> None:
    """A two-wheeler a few pixels high: one rod, and its rider one rod on top of it when the
    vehicle is tall enough on screen (1.5 pixels) to show under it."""
    camera, z, rider = painter.camera, frame.z, vehicle.rider
    bicycle = vehicle.label == BICYCLE
    paint = pick(rng, _BICYCLE_PALETTE if bicycle else _MOTORCYCLE_PALETTE, 0.05)
    if vehicle.forward[0] == 0.0:  # seen from behind or ahead
        width = 0.45 if vehicle.label == BICYCLE else 0.6
        bike = painter.rod(frame(0.0, 0.0, 0.05), frame(0.0, 0.0, 0.85), width)
    else:  # side on
        bike = painter.rod(frame(-0.45, 0.0, 0.45), frame(0.45, 0.0, 0.45), 0.8)
    painter.fill(bike, paint * 0.5 * painter.style.lit)
    if rider is None or camera.fy * 0.9 / z < 1.5:
        return
    k = rider.height / 1.75
    rider_painter = Painter(painter.canvas, camera, painter.style, vehicle.z, rider.instance)
    body = rider_painter.rod(frame(0.0, 0.0, 0.95), frame(0.0, 0.0, 0.95 + 0.75 * k), 0.4 * k)
    jacket = pick(rng, _CYCLING_CLOTHES if bicycle else _LEATHERS, 0.06)
    rider_painter.fill(body, jacket * painter.style.shade)


def draw_two_wheeler(
    canvas: Canvas, camera: Camera, vehicle: TwoWheeler, style: Style, rng: np.random.Generator
) -> None:
    """Draw a bicycle or motorcycle and its rider, if any."""
    frame = _Frame(vehicle.x, vehicle.centre_z(), vehicle.forward)
    painter = Painter(canvas, camera, style, vehicle.z, vehicle.instance)
    rider = vehicle.rider
    across, along = vehicle.footprint_size()
    painter.round_shadow(vehicle.x, frame.z, 0.6 * across, 0.6 * along, 0.6)
    top = 1.9 if rider is not None else 1.1
    if camera.fy * top / vehicle.z < DETAIL_PIXELS:
        _far(painter, frame, vehicle, rng)
        return
    parts = _Parts()
    motorcyclist = vehicle.label == MOTORCYCLE
    if motorcyclist:
        feet, grips = _motorcycle(parts, painter, frame, rng)
        pose = _Pose((-0.3, 0.88), 0.6, feet, grips)
    else:
        feet, grips = _bicycle(parts, painter, frame, rider.crank if rider else 0.0, rng)
        pose = _Pose((-0.27, 0.98), 0.4, feet, grips)
    if rider is not None:
        rider_painter = Painter(canvas, camera, style, vehicle.z, rider.instance)
        _rider(parts, rider_painter, frame, rider, pose, motorcyclist, rng)
    parts.paint()
