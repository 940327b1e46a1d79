"""Things standing in the street, drawn far to near: vehicles, people, poles with signs and
traffic lights, trees. Shapes are projected boxes and planar polygons; each part is painted on the
photo, label and instance layers at once, with shading from the scene's light."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, Region, grain, smooth_noise
from fullglow.data.synthetic.layout import (
    BUS,
    CAR,
    POLE,
    TRAFFIC_LIGHT,
    TRAFFIC_SIGN,
    VEGETATION,
    Layout,
    Pedestrian,
    Pole,
    Thing,
    Tree,
    Vehicle,
)
from fullglow.data.synthetic.style import (
    CAR_PALETTE,
    CLOTHES_PALETTE,
    SKIN_PALETTE,
    Style,
    grey,
    jitter,
    pick,
)

Point = tuple[float, float, float]

_DETAIL_PIXELS = 14.0  # things shorter than this on screen are drawn without their details


class _Painter:
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
        return self.canvas.polygon([self.camera.point(*p) for p in points])

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
        """Darken the ground under a footprint (the labels there stay the ground's)."""
        region = self.polygon([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)])
        self.canvas.darken(region, factor)


def _face(corners: list[Point], s0: float, s1: float, t0: float, t1: float) -> list[Point]:
    """The sub-rectangle `[s0, s1] x [t0, t1]` of a planar quad given as
    `(bottom-left, bottom-right, top-right, top-left)` corners."""
    s = np.array([s0, s1, s1, s0])[:, None]
    t = np.array([t0, t0, t1, t1])[:, None]
    weights = np.hstack([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])  # bilinear, (4, 4)
    return [tuple(p) for p in (weights @ np.array(corners)).tolist()]


class _Box:
    """An axis-aligned box `[x0, x1] x [y0, y1] x [z0, z1]` in front of the camera."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> None:
        self.x0, self.x1, self.y0, self.y1, self.z0, self.z1 = x0, x1, y0, y1, z0, z1

    def front(self) -> list[Point]:
        x0, x1, y0, y1, z = self.x0, self.x1, self.y0, self.y1, self.z0
        return [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]

    def side(self) -> tuple[list[Point], float] | None:
        """The side face the camera sees (near edge first) and its normal's X sign."""
        if self.x1 < 0:
            x, normal = self.x1, 1.0
        elif self.x0 > 0:
            x, normal = self.x0, -1.0
        else:
            return None
        y0, y1, z0, z1 = self.y0, self.y1, self.z0, self.z1
        return [(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)], normal

    def top(self, eye: float) -> list[Point] | None:
        if self.y1 >= eye:
            return None
        x0, x1, y, z0, z1 = self.x0, self.x1, self.y1, self.z0, self.z1
        return [(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]


def _side_light(style: Style, normal: float) -> float:
    return style.lit if normal * style.sun_side > 0 else style.shade


def _glass(style: Style, rng: np.random.Generator) -> np.ndarray:
    return jitter(rng, style.window * 0.7 + 0.25 * style.sky_horizon, 0.04)


def _draw_box(
    painter: _Painter, box: _Box, colour: np.ndarray, front_light: float
) -> tuple[list[Point], list[Point] | None]:
    """Paint the box's visible faces; returns the front face and the visible side face."""
    style = painter.style
    side = box.side()
    if side is not None:
        painter.fill(painter.polygon(side[0]), colour * _side_light(style, side[1]), 1.05, 0.8)
    top = box.top(painter.camera.eye)
    if top is not None:
        painter.fill(painter.polygon(top), colour * 1.1 * style.lit)
    painter.fill(painter.polygon(box.front()), colour * front_light, 1.05, 0.8)
    return box.front(), side[0] if side is not None else None


def _wheels(
    painter: _Painter, vehicle: Vehicle, z_axles: tuple[float, float], radius: float
) -> None:
    x0, x1 = vehicle.x - vehicle.width / 2, vehicle.x + vehicle.width / 2
    tyre = np.full(3, 0.05)
    for xa, xb in ((x0 + 0.05, x0 + 0.32), (x1 - 0.32, x1 - 0.05)):
        painter.fill(
            painter.polygon(
                [
                    (xa, 0.0, vehicle.z + 0.4),
                    (xb, 0.0, vehicle.z + 0.4),
                    (xb, 2 * radius, vehicle.z + 0.4),
                    (xa, 2 * radius, vehicle.z + 0.4),
                ]
            ),
            tyre,
        )
    side = _Box(x0, x1, 0.0, 2 * radius, vehicle.z, vehicle.z + vehicle.length).side()
    if side is None:
        return
    x = side[0][0][0]
    for za in z_axles:
        painter.fill(
            painter.polygon(
                [
                    (x, 0.0, za - radius),
                    (x, 0.0, za + radius),
                    (x, 2 * radius, za + radius),
                    (x, 2 * radius, za - radius),
                ]
            ),
            tyre,
        )
        hub = _face(
            [
                (x, 0.0, za - radius),
                (x, 0.0, za + radius),
                (x, 2 * radius, za + radius),
                (x, 2 * radius, za - radius),
            ],
            0.3,
            0.7,
            0.3,
            0.7,
        )
        painter.fill(painter.polygon(hub), np.full(3, 0.45))


def _lights(painter: _Painter, face: list[Point], oncoming: bool, t0: float, t1: float) -> None:
    colour = np.array([1.0, 0.95, 0.8]) if oncoming else np.array([0.75, 0.04, 0.03])
    for s0, s1 in ((0.03, 0.2), (0.8, 0.97)):
        painter.fill(painter.polygon(_face(face, s0, s1, t0, t1)), colour)


def _vehicle(
    canvas: Canvas, camera: Camera, vehicle: Vehicle, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, vehicle.z, vehicle.instance)
    x0, x1 = vehicle.x - vehicle.width / 2, vehicle.x + vehicle.width / 2
    z0, z1 = vehicle.z, vehicle.z + vehicle.length
    front_light = 0.5 * (style.lit + style.shade)
    painter.shadow(x0 - 0.2, x1 + 0.2, z0 - 0.4, z1, 0.35)
    h = vehicle.height
    if camera.fy * h / z0 < _DETAIL_PIXELS:  # far away: a box is all that shows
        _draw_box(
            painter, _Box(x0, x1, 0.1, 0.85 * h, z0, z1), pick(rng, CAR_PALETTE, 0.05), front_light
        )
        return
    if vehicle.label == CAR:
        paint = pick(rng, CAR_PALETTE, 0.05)
        _wheels(painter, vehicle, (z0 + 0.8, z1 - 0.8), 0.33)
        body, _ = _draw_box(painter, _Box(x0, x1, 0.25, 0.55 * h, z0, z1), paint, front_light)
        inset = 0.08 * vehicle.width
        cabin_z = (z0 + 0.25 * vehicle.length, z0 + 0.72 * vehicle.length)
        cabin = _Box(x0 + inset, x1 - inset, 0.55 * h, h, *cabin_z)
        front, side = _draw_box(painter, cabin, paint, front_light)
        glass = _glass(style, rng)
        painter.fill(painter.polygon(_face(front, 0.07, 0.93, 0.0, 0.85)), glass, 1.2, 0.7)
        if side is not None:
            painter.fill(painter.polygon(_face(side, 0.06, 0.94, 0.05, 0.85)), glass, 1.1, 0.7)
        _lights(painter, body, vehicle.oncoming, 0.6, 0.85)
        painter.fill(painter.polygon(_face(body, 0.0, 1.0, 0.0, 0.18)), paint * 0.5)  # bumper
        painter.fill(
            painter.polygon(_face(body, 0.38, 0.62, 0.22, 0.42)), np.full(3, 0.85)
        )  # plate
        return
    if vehicle.label == BUS:
        paint = pick(
            rng, ((0.85, 0.75, 0.2), (0.75, 0.1, 0.1), (0.9, 0.9, 0.88), (0.2, 0.35, 0.6)), 0.05
        )
        _wheels(painter, vehicle, (z0 + 2.2, z1 - 2.6), 0.5)
        front, side = _draw_box(painter, _Box(x0, x1, 0.3, h, z0, z1), paint, front_light)
        glass = _glass(style, rng)
        painter.fill(
            painter.polygon(_face(front, 0.08, 0.92, 0.45 if vehicle.oncoming else 0.6, 0.92)),
            glass,
            1.2,
            0.8,
        )
        if side is not None:
            for k in range(6):
                painter.fill(
                    painter.polygon(_face(side, 0.04 + k * 0.16, 0.17 + k * 0.16, 0.5, 0.88)),
                    glass,
                    1.1,
                    0.8,
                )
        _lights(painter, front, vehicle.oncoming, 0.1, 0.2)
        return
    # truck: a dark chassis under a tall cargo box, the cab in front
    cargo = grey(rng, 0.6, 0.95)
    _wheels(painter, vehicle, (z0 + 1.2, z1 - 1.2), 0.48)
    _draw_box(painter, _Box(x0 + 0.1, x1 - 0.1, 0.35, 1.0, z0, z1), np.full(3, 0.12), front_light)
    if vehicle.oncoming:
        cab_paint = pick(rng, CAR_PALETTE, 0.05)
        _draw_box(painter, _Box(x0, x1, 1.0, h, z0 + 2.3, z1), cargo, front_light)
        front, _ = _draw_box(
            painter, _Box(x0, x1, 0.4, min(h, 2.9), z0, z0 + 2.2), cab_paint, front_light
        )
        painter.fill(
            painter.polygon(_face(front, 0.05, 0.95, 0.6, 0.92)), _glass(style, rng), 1.2, 0.8
        )
        _lights(painter, front, True, 0.12, 0.22)
    else:
        front, _ = _draw_box(painter, _Box(x0, x1, 1.0, h, z0, z1), cargo, front_light)
        painter.fill(
            painter.polygon(_face(front, 0.49, 0.51, 0.0, 1.0)), cargo * 0.6
        )  # the doors' seam
        _lights(painter, front, False, 0.02, 0.1)


def _pedestrian(
    canvas: Canvas, camera: Camera, person: Pedestrian, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, person.z, person.instance)
    x, z, h = person.x, person.z, person.height
    k = h / 1.75  # body proportions scale with height
    painter.shadow(x - 0.35, x + 0.35, z - 0.25, z + 0.3, 0.55)
    shirt, trousers = pick(rng, CLOTHES_PALETTE, 0.08), pick(rng, CLOTHES_PALETTE, 0.06)
    if camera.fy * h / z < _DETAIL_PIXELS:
        body = [
            (x - 0.15 * k, 0.0, z),
            (x + 0.15 * k, 0.0, z),
            (x + 0.2 * k, 0.85 * h, z),
            (x - 0.2 * k, 0.85 * h, z),
        ]
        painter.fill(painter.polygon(body), shirt, 1.0, 0.6)
        painter.fill(painter.ellipse((x, 0.915 * h, z), 0.095 * k, 0.12 * k), shirt * 0.5)
        return
    skin, hair = pick(rng, SKIN_PALETTE, 0.04), grey(rng, 0.05, 0.35)
    side = style.lit if style.sun_side > 0 else style.shade
    other = style.shade if style.sun_side > 0 else style.lit
    hip, shoulder = 0.5 * h, 0.81 * h
    for sign, light in ((-1.0, other), (1.0, side)):
        foot = x + sign * 0.07 * k + sign * person.stride / 2
        leg = [
            (foot - 0.065 * k, 0.0, z),
            (foot + 0.065 * k, 0.0, z),
            (x + sign * 0.14 * k, hip, z),
            (x + sign * 0.005, hip, z),
        ]
        painter.fill(painter.polygon(leg), trousers * light, 1.0, 0.8)
    for sign, light in ((-1.0, other), (1.0, side)):
        hand = x + sign * (0.24 * k) + sign * person.swing
        arm = [
            (hand - 0.04 * k, 0.45 * h, z),
            (hand + 0.04 * k, 0.45 * h, z),
            (x + sign * 0.22 * k, shoulder, z),
            (x + sign * 0.15 * k, shoulder, z),
        ]
        painter.fill(painter.polygon(arm), shirt * light * 0.9)
    torso = [
        (x - 0.15 * k, hip - 0.05, z),
        (x + 0.15 * k, hip - 0.05, z),
        (x + 0.2 * k, shoulder, z),
        (x - 0.2 * k, shoulder, z),
    ]
    painter.fill(painter.polygon(torso), shirt * 0.5 * (style.lit + style.shade), 1.1, 0.8)
    painter.fill(painter.ellipse((x, 0.915 * h, z), 0.095 * k, 0.12 * k), hair)
    painter.fill(
        painter.ellipse((x, 0.9 * h, z), 0.085 * k, 0.1 * k),
        skin * 0.5 * (style.lit + style.shade),
        1.0,
        0.85,
    )


def _metal(painter: _Painter, region: Region | None, colour: np.ndarray) -> None:
    """A cylinder's shading across the columns of `region`: bright towards the sun."""
    if region is None:
        return
    u = region.u
    across = (u - u.min()) / max(float(u.max() - u.min()), 1.0) - 0.5
    painter.canvas.paint(
        region,
        painter.tone(colour * (0.75 + 0.5 * painter.style.sun_side * across)[..., None]),
        painter.instance,
    )


def _sign(
    canvas: Canvas, camera: Camera, pole: Pole, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, pole.z, TRAFFIC_SIGN)
    x, y, z, r = pole.x, pole.sign_height, pole.z - 0.05, pole.sign_size / 2
    red, white, blue = np.array([0.75, 0.08, 0.08]), np.full(3, 0.92), np.array([0.1, 0.25, 0.65])
    light = 0.5 * (style.lit + style.shade)

    def shape(scale: float) -> list[Point]:
        angles = {
            "triangle": np.pi / 2 + np.arange(3) * 2 * np.pi / 3,
            "square": np.pi / 4 + np.arange(4) * np.pi / 2,
            "octagon": np.pi / 8 + np.arange(8) * np.pi / 4,
            "diamond": np.arange(4) * np.pi / 2,
        }[pole.sign]
        return [(x + scale * r * np.cos(a), y + scale * r * np.sin(a), z) for a in angles]

    if pole.sign == "circle":
        outer, inner = (red, white) if rng.random() < 0.6 else (blue, blue * 1.3)
        painter.fill(painter.ellipse((x, y, z), r, r), outer * light)
        painter.fill(painter.ellipse((x, y, z), 0.75 * r, 0.75 * r), inner * light)
        return
    outer, inner = {
        "triangle": (red, white),
        "square": (blue, white) if rng.random() < 0.5 else (white, blue),
        "octagon": (red, red * 1.2),
        "diamond": (white, np.array([0.95, 0.78, 0.1])),
    }[pole.sign]
    painter.fill(painter.polygon(shape(1.0)), outer * light)
    painter.fill(painter.polygon(shape(0.7)), inner * light)


def _traffic_light(
    canvas: Canvas, camera: Camera, pole: Pole, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, pole.z, TRAFFIC_LIGHT)
    x, y, z = pole.x, pole.light_height, pole.z - 0.1
    housing = [(x - 0.17, y, z), (x + 0.17, y, z), (x + 0.17, y + 0.9, z), (x - 0.17, y + 0.9, z)]
    painter.fill(painter.polygon(housing), grey(rng, 0.06, 0.18), 1.1, 0.9)
    on = int(rng.integers(3))
    lamps = (np.array([0.95, 0.1, 0.05]), np.array([1.0, 0.7, 0.05]), np.array([0.1, 0.9, 0.4]))
    for k, colour in enumerate(lamps):
        painter.fill(
            painter.ellipse((x, y + 0.75 - 0.3 * k, z), 0.1, 0.1),
            colour * (1.0 if k == on else 0.2),
        )


def _pole(
    canvas: Canvas, camera: Camera, pole: Pole, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, pole.z, POLE)
    colour = grey(rng, 0.3, 0.65) if rng.random() < 0.8 else jitter(rng, (0.15, 0.3, 0.2), 0.05)
    x, z, w, h = pole.x, pole.z, pole.width, pole.height
    _metal(
        painter,
        painter.polygon(
            [(x - w / 2, 0.0, z), (x + w / 2, 0.0, z), (x + w / 3, h, z), (x - w / 3, h, z)]
        ),
        colour,
    )
    if pole.arm:
        end = x + pole.arm
        arm = [
            (min(x, end), h - 0.12, z),
            (max(x, end), h - 0.12, z),
            (max(x, end), h, z),
            (min(x, end), h, z),
        ]
        painter.fill(painter.polygon(arm), colour)
        head = [
            (end - 0.3, h - 0.2, z),
            (end + 0.3, h - 0.2, z),
            (end + 0.3, h - 0.05, z),
            (end - 0.3, h - 0.05, z),
        ]
        painter.fill(painter.polygon(head), colour * 0.6)
    if pole.sign is not None:
        _sign(canvas, camera, pole, style, rng)
    if pole.light_height:
        _traffic_light(canvas, camera, pole, style, rng)


def _tree(
    canvas: Canvas, camera: Camera, tree: Tree, style: Style, rng: np.random.Generator
) -> None:
    painter = _Painter(canvas, camera, style, tree.z, VEGETATION)
    x, z = tree.x, tree.z
    painter.shadow(x - 1.5, x + 1.5, z - 1.0, z + 1.0, 0.75)
    bark = jitter(rng, (0.3, 0.25, 0.2), 0.05)
    trunk_top = tree.trunk_height + 0.5
    w = tree.trunk_width / 2
    _metal(
        painter,
        painter.polygon(
            [
                (x - w, 0.0, z),
                (x + w, 0.0, z),
                (x + 0.7 * w, trunk_top, z),
                (x - 0.7 * w, trunk_top, z),
            ]
        ),
        bark,
    )

    centres = [camera.project(x + dx, y, z) for dx, y, _, _ in tree.lobes]
    radii = [(camera.fx * rx / z, camera.fy * ry / z) for _, _, rx, ry in tree.lobes]
    box = canvas.box(
        min(float(u) - ru for (u, _), (ru, _) in zip(centres, radii, strict=True)) - 1,
        max(float(u) + ru for (u, _), (ru, _) in zip(centres, radii, strict=True)) + 1,
        min(float(v) - rv for (_, v), (_, rv) in zip(centres, radii, strict=True)) - 1,
        max(float(v) + rv for (_, v), (_, rv) in zip(centres, radii, strict=True)) + 1,
    )
    if box is None:
        return
    inside = np.full(box.mask.shape, np.inf, dtype=np.float32)
    for (u, v), (ru, rv) in zip(centres, radii, strict=True):
        inside = np.minimum(inside, ((box.u - float(u)) / ru) ** 2 + ((box.v - float(v)) / rv) ** 2)
    shape = box.mask.shape
    # the ragged outline comes from the layout's stream, so the label map does not depend on style
    outline = smooth_noise(
        np.random.default_rng(tree.seed), shape, (max(shape[0] // 3, 2), max(shape[1] // 3, 2))
    )
    crown = box._replace(mask=inside < 1.0 + 0.3 * outline)
    if not crown.mask.any():
        return
    up = (box.v - box.v.min()) / max(float(box.v.max() - box.v.min()), 1.0)
    across = (box.u - box.u.mean()) / max(float(box.u.max() - box.u.min()), 1.0)
    leaves = 0.6 + 0.35 * np.abs(grain(rng, shape)) - 0.3 * up + 0.3 * style.sun_side * across
    colour = style.vegetation * jitter(rng, np.ones(3), 0.1) * style.lit
    canvas.paint(crown, painter.tone(colour * leaves[..., None]), VEGETATION)


_DRAW: dict[type, Callable[[Canvas, Camera, Thing, Style, np.random.Generator], None]] = {
    Vehicle: _vehicle,
    Pedestrian: _pedestrian,
    Pole: _pole,
    Tree: _tree,
}


def draw_things(
    canvas: Canvas, camera: Camera, layout: Layout, style: Style, rng: np.random.Generator
) -> None:
    """Draw every thing of `layout`, far to near, so nearer things cover farther ones."""
    for thing in layout.things:
        _DRAW[type(thing)](canvas, camera, thing, style, rng)
