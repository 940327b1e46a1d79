"""Trains: trams in a lane of the street and railway trains crossing its far end.

Each car is a box in the train's livery (drawn once per train from the style stream, so all its cars
match) with a band of windows split by pillars that recede in perspective, a darker skirt or
undercarriage, and, on the car whose end faces the camera, a driver's cab. A tram has bellows
between its cars and a pantograph on one roof.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, Region
from fullglow.data.synthetic.painter import (
    DETAIL_PIXELS,
    Box,
    Painter,
    Point,
    draw_box,
    glass_colour,
    patch,
)
from fullglow.data.synthetic.style import Style, jitter
from fullglow.data.synthetic.things import TrainCar

_TRAM_LIVERIES = (  # body, accent
    ((0.92, 0.92, 0.9), (0.75, 0.1, 0.1)),
    ((0.95, 0.8, 0.15), (0.2, 0.2, 0.22)),
    ((0.8, 0.14, 0.12), (0.95, 0.93, 0.85)),
    ((0.2, 0.5, 0.3), (0.9, 0.9, 0.85)),
    ((0.2, 0.35, 0.65), (0.9, 0.9, 0.9)),
)
_RAILWAY_LIVERIES = (
    ((0.75, 0.1, 0.1), (0.95, 0.95, 0.95)),
    ((0.88, 0.88, 0.88), (0.75, 0.1, 0.1)),
    ((0.15, 0.35, 0.2), (0.9, 0.85, 0.2)),
    ((0.6, 0.62, 0.66), (0.2, 0.3, 0.6)),
)


class Livery(NamedTuple):
    body: np.ndarray
    accent: np.ndarray
    glass: np.ndarray


def sample_livery(rng: np.random.Generator, style: Style, crosswise: bool) -> Livery:
    """The colours of one train (a railway train if `crosswise`, else a tram)."""
    liveries = _RAILWAY_LIVERIES if crosswise else _TRAM_LIVERIES
    body, accent = liveries[int(rng.integers(len(liveries)))]
    return Livery(jitter(rng, body, 0.04), jitter(rng, accent, 0.04), glass_colour(style, rng))


def _windows(
    painter: Painter,
    region: Region | None,
    along: np.ndarray,
    period: float,
    opening: float,
    livery: Livery,
    light: float,
) -> None:
    """Paint a band of windows: glass where `along` (metres along the car at each column of
    `region`, `(1, w)`) is in the first `opening` of each `period`, the body colour elsewhere."""
    if region is None:
        return
    pane = ((along / period) % 1.0 < opening)[..., None]  # (1, w, 1)
    v = region.v
    ramp = 1.15 - 0.4 * (v - v[0, 0]) / max(float(v[-1, 0] - v[0, 0]), 1.0)  # (h, 1)
    glass = livery.glass * ramp[..., None]  # (h, 1, 3)
    colour = np.where(pane, glass, livery.body * light)  # (h, w, 3)
    painter.canvas.paint(region, painter.tone(colour), painter.instance)


def _columns_along_z(painter: Painter, region: Region, x: float) -> np.ndarray:
    """World Z `(1, w)` where each pixel column's ray meets the plane `X = x`."""
    camera = painter.camera
    with np.errstate(divide="ignore"):
        return camera.fx * x / (region.u - camera.cx)


def _columns_along_x(painter: Painter, region: Region, z: float) -> np.ndarray:
    """World X `(1, w)` where each pixel column's ray meets the plane `Z = z`."""
    camera = painter.camera
    return (region.u - camera.cx) * z / camera.fx


def _lamps(painter: Painter, face: list[Point], colour: np.ndarray, t0: float, t1: float) -> None:
    for s0, s1 in ((0.06, 0.18), (0.82, 0.94)):
        painter.fill(painter.polygon(patch(face, s0, s1, t0, t1)), colour)


def _pantograph(painter: Painter, car: TrainCar) -> None:
    """A single-arm current collector on the roof, folded up to the (unseen) wire."""
    x, y, z = 0.5 * (car.x0 + car.x1), car.height, 0.5 * (car.z + car.z1)
    colour = np.full(3, 0.22)
    base, knee, head = (x, y + 0.1, z - 0.7), (x, y + 0.75, z + 0.2), (x, y + 1.1, z - 0.3)
    painter.fill(painter.rod(base, knee, 0.07), colour)
    painter.fill(painter.rod(knee, head, 0.05), colour)
    painter.fill(
        painter.rod((x - 0.7, y + 1.1, z - 0.3), (x + 0.7, y + 1.1, z - 0.3), 0.05), colour
    )


def _tram_car(painter: Painter, car: TrainCar, livery: Livery, light: float) -> None:
    x0, x1, z0, z1, h = car.x0, car.x1, car.z, car.z1, car.height
    if car.joint:  # the bellows towards the next car
        draw_box(
            painter,
            Box(x0 + 0.15, x1 - 0.15, 0.35, h - 0.15, z0 - 0.5, z0),
            np.full(3, 0.12),
            light,
        )
    front, side = draw_box(painter, Box(x0, x1, 0.3, h, z0, z1), livery.body, light)
    for face in (front, side):
        if face is not None:
            painter.fill(painter.polygon(patch(face, 0.0, 1.0, 0.0, 0.16)), livery.accent * 0.7)
    if side is not None:
        band = painter.polygon(patch(side, 0.02, 0.98, 0.42, 0.86))
        if band is not None:
            along = _columns_along_z(painter, band, side[0][0]) - z0
            _windows(painter, band, along, 1.8, 0.82, livery, light)
    if car.cab:
        windscreen = patch(front, 0.06, 0.94, 0.42, 0.86)
        painter.fill(painter.polygon(windscreen), livery.glass, 1.2, 0.75)
        display = patch(front, 0.25, 0.75, 0.88, 0.97)
        painter.fill(painter.polygon(display), np.array([0.95, 0.6, 0.1]) * 0.6)
        painter.fill(painter.polygon(patch(front, 0.0, 1.0, 0.32, 0.38)), livery.accent * light)
        lamp = np.array([1.0, 0.95, 0.8]) if car.oncoming else np.array([0.75, 0.04, 0.03])
        _lamps(painter, front, lamp, 0.2, 0.27)
    if car.pantograph:
        _pantograph(painter, car)


def _railway_car(painter: Painter, car: TrainCar, livery: Livery, light: float) -> None:
    x0, x1, z0, z1, h = car.x0, car.x1, car.z, car.z1, car.height
    dark = np.full(3, 0.1)
    for centre in (x0 + 3.0, x1 - 3.0):  # bogies under the ends
        draw_box(
            painter, Box(centre - 1.3, centre + 1.3, 0.0, 1.0, z0 + 0.2, z1 - 0.2), dark, light
        )
    draw_box(painter, Box(x0 + 4.5, x1 - 4.5, 0.45, 1.0, z0 + 0.3, z1 - 0.3), dark * 1.5, light)
    front, side = draw_box(painter, Box(x0, x1, 1.0, h, z0, z1), livery.body, light)
    band = painter.polygon(patch(front, 0.01, 0.99, 0.5, 0.76))
    if band is not None:
        along = _columns_along_x(painter, band, z0) - x0
        _windows(painter, band, along, 2.4, 0.62, livery, light)
    painter.fill(painter.polygon(patch(front, 0.0, 1.0, 0.3, 0.38)), livery.accent * light)
    if car.cab and side is not None:  # the head of the train, seen from the side
        painter.fill(painter.polygon(patch(side, 0.1, 0.9, 0.55, 0.85)), livery.glass, 1.2, 0.8)
        _lamps(painter, side, np.array([1.0, 0.95, 0.8]), 0.15, 0.22)


def draw_train_car(
    canvas: Canvas,
    camera: Camera,
    car: TrainCar,
    style: Style,
    livery: Livery,
) -> None:
    """Draw one car of a tram or a railway train in `livery`."""
    painter = Painter(canvas, camera, style, car.z, car.instance)
    light = 0.5 * (style.lit + style.shade)
    painter.shadow(car.x0 - 0.2, car.x1 + 0.2, car.z - 0.3, car.z1, 0.4)
    if camera.fy * car.height / car.z < DETAIL_PIXELS:
        draw_box(painter, Box(car.x0, car.x1, 0.2, car.height, car.z, car.z1), livery.body, light)
        return
    if car.crosswise:
        _railway_car(painter, car, livery, light)
    else:
        _tram_car(painter, car, livery, light)
