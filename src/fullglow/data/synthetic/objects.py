"""Things standing in the street, drawn far to near: vehicles, people, poles with signs and
traffic lights, trees, and (from their own modules) bicycles, motorcycles and their riders, and
trains. Shapes are projected boxes and planar polygons; each part is painted on the photo and the
instance layer at once, with shading from the scene's light."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, grain, smooth_noise
from fullglow.data.synthetic.layout import POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION, Layout
from fullglow.data.synthetic.painter import (
    DETAIL_PIXELS,
    Box,
    Painter,
    Point,
    draw_box,
    glass_colour,
    lengthwise,
    patch,
    upright,
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
from fullglow.data.synthetic.things import (
    BUS,
    CAR,
    TRUCK,
    Pedestrian,
    Pole,
    Thing,
    TrainCar,
    Tree,
    TwoWheeler,
    Vehicle,
)
from fullglow.data.synthetic.trains import Livery, draw_train_car, sample_livery
from fullglow.data.synthetic.two_wheelers import draw_two_wheeler


def _wheels(
    painter: Painter, vehicle: Vehicle, z_axles: tuple[float, float], radius: float
) -> None:
    """Tyres under the front and, when the side shows, on the side with their hubs."""
    x0, x1 = vehicle.x - vehicle.width / 2, vehicle.x + vehicle.width / 2
    tyre, hub = np.full(3, 0.05), np.full(3, 0.45)
    for xa, xb in ((x0 + 0.05, x0 + 0.32), (x1 - 0.32, x1 - 0.05)):
        painter.fill(painter.polygon(upright(xa, xb, 0.0, 2 * radius, vehicle.z + 0.4)), tyre)
    side = Box(x0, x1, 0.0, 2 * radius, vehicle.z, vehicle.z + vehicle.length).side()
    if side is None:
        return
    x = side[0][0][0]
    for za in z_axles:
        wheel = lengthwise(x, 0.0, 2 * radius, za - radius, za + radius)
        painter.fill(painter.polygon(wheel), tyre)
        painter.fill(painter.polygon(patch(wheel, 0.3, 0.7, 0.3, 0.7)), hub)


def _lights(painter: Painter, face: list[Point], oncoming: bool, t0: float, t1: float) -> None:
    colour = np.array([1.0, 0.95, 0.8]) if oncoming else np.array([0.75, 0.04, 0.03])
    for s0, s1 in ((0.03, 0.2), (0.8, 0.97)):
        painter.fill(painter.polygon(patch(face, s0, s1, t0, t1)), colour)


def _car(painter: Painter, vehicle: Vehicle, rng: np.random.Generator, light: float) -> None:
    """A body box and a narrower cabin box with glass, lights, bumper and number plate."""
    x0, x1, z0, z1 = _footprint(vehicle)
    h, length = vehicle.height, vehicle.length
    paint = pick(rng, CAR_PALETTE, 0.05)
    _wheels(painter, vehicle, (z0 + 0.8, z1 - 0.8), 0.33)
    body, _ = draw_box(painter, Box(x0, x1, 0.25, 0.55 * h, z0, z1), paint, light)
    inset = 0.08 * vehicle.width
    cabin = Box(x0 + inset, x1 - inset, 0.55 * h, h, z0 + 0.25 * length, z0 + 0.72 * length)
    front, side = draw_box(painter, cabin, paint, light)
    glass = glass_colour(painter.style, rng)
    painter.fill(painter.polygon(patch(front, 0.07, 0.93, 0.0, 0.85)), glass, 1.2, 0.7)
    if side is not None:
        painter.fill(painter.polygon(patch(side, 0.06, 0.94, 0.05, 0.85)), glass, 1.1, 0.7)
    _lights(painter, body, vehicle.oncoming, 0.6, 0.85)
    painter.fill(painter.polygon(patch(body, 0.0, 1.0, 0.0, 0.18)), paint * 0.5)  # bumper
    painter.fill(painter.polygon(patch(body, 0.38, 0.62, 0.22, 0.42)), np.full(3, 0.85))  # plate


_BUS_PALETTE = ((0.85, 0.75, 0.2), (0.75, 0.1, 0.1), (0.9, 0.9, 0.88), (0.2, 0.35, 0.6))


def _bus(painter: Painter, vehicle: Vehicle, rng: np.random.Generator, light: float) -> None:
    """One tall box with a windscreen or rear window and a row of side windows."""
    x0, x1, z0, z1 = _footprint(vehicle)
    paint = pick(rng, _BUS_PALETTE, 0.05)
    _wheels(painter, vehicle, (z0 + 2.2, z1 - 2.6), 0.5)
    front, side = draw_box(painter, Box(x0, x1, 0.3, vehicle.height, z0, z1), paint, light)
    glass = glass_colour(painter.style, rng)
    bottom = 0.45 if vehicle.oncoming else 0.6
    painter.fill(painter.polygon(patch(front, 0.08, 0.92, bottom, 0.92)), glass, 1.2, 0.8)
    if side is not None:
        for k in range(6):
            window = patch(side, 0.04 + k * 0.16, 0.17 + k * 0.16, 0.5, 0.88)
            painter.fill(painter.polygon(window), glass, 1.1, 0.8)
    _lights(painter, front, vehicle.oncoming, 0.1, 0.2)


def _truck(painter: Painter, vehicle: Vehicle, rng: np.random.Generator, light: float) -> None:
    """A dark chassis under a tall cargo box; the cab in front when it comes towards us."""
    x0, x1, z0, z1 = _footprint(vehicle)
    h = vehicle.height
    cargo = grey(rng, 0.6, 0.95)
    _wheels(painter, vehicle, (z0 + 1.2, z1 - 1.2), 0.48)
    draw_box(painter, Box(x0 + 0.1, x1 - 0.1, 0.35, 1.0, z0, z1), np.full(3, 0.12), light)
    if vehicle.oncoming:
        cab_paint = pick(rng, CAR_PALETTE, 0.05)
        draw_box(painter, Box(x0, x1, 1.0, h, z0 + 2.3, z1), cargo, light)
        cab = Box(x0, x1, 0.4, min(h, 2.9), z0, z0 + 2.2)
        front, _ = draw_box(painter, cab, cab_paint, light)
        windscreen = patch(front, 0.05, 0.95, 0.6, 0.92)
        painter.fill(painter.polygon(windscreen), glass_colour(painter.style, rng), 1.2, 0.8)
        _lights(painter, front, True, 0.12, 0.22)
    else:
        front, _ = draw_box(painter, Box(x0, x1, 1.0, h, z0, z1), cargo, light)
        painter.fill(painter.polygon(patch(front, 0.49, 0.51, 0.0, 1.0)), cargo * 0.6)  # doors
        _lights(painter, front, False, 0.02, 0.1)


def _footprint(vehicle: Vehicle) -> tuple[float, float, float, float]:
    """`(x0, x1, z0, z1)`: the ground rectangle a vehicle stands on."""
    half = vehicle.width / 2
    return vehicle.x - half, vehicle.x + half, vehicle.z, vehicle.z + vehicle.length


_VEHICLES = {CAR: _car, BUS: _bus, TRUCK: _truck}


def _vehicle(
    canvas: Canvas, camera: Camera, vehicle: Vehicle, style: Style, rng: np.random.Generator
) -> None:
    painter = Painter(canvas, camera, style, vehicle.z, vehicle.instance)
    x0, x1, z0, z1 = _footprint(vehicle)
    light = 0.5 * (style.lit + style.shade)  # the faces towards the camera
    painter.shadow(x0 - 0.2, x1 + 0.2, z0 - 0.4, z1, 0.35)
    if camera.fy * vehicle.height / z0 < DETAIL_PIXELS:  # far away: a box is all that shows
        box = Box(x0, x1, 0.1, 0.85 * vehicle.height, z0, z1)
        draw_box(painter, box, pick(rng, CAR_PALETTE, 0.05), light)
        return
    _VEHICLES[vehicle.label](painter, vehicle, rng, light)


def _pedestrian(
    canvas: Canvas, camera: Camera, person: Pedestrian, style: Style, rng: np.random.Generator
) -> None:
    painter = Painter(canvas, camera, style, person.z, person.instance)
    x, z, h = person.x, person.z, person.height
    k = h / 1.75  # body proportions scale with height
    painter.round_shadow(x, z, 0.35, 0.3, 0.55)
    shirt, trousers = pick(rng, CLOTHES_PALETTE, 0.08), pick(rng, CLOTHES_PALETTE, 0.06)
    if camera.fy * h / z < DETAIL_PIXELS:
        body = upright(x - 0.17 * k, x + 0.17 * k, 0.0, 0.85 * h, z)
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


def _column(
    painter: Painter,
    x: float,
    z: float,
    width: float,
    taper: float,
    height: float,
    colour: np.ndarray,
) -> None:
    """An upright cylinder (pole, trunk) `width` wide at the foot, `taper * width` at the top,
    shaded across: bright on the side towards the sun."""
    half = width / 2
    corners = [
        (x - half, 0.0, z),
        (x + half, 0.0, z),
        (x + taper * half, height, z),
        (x - taper * half, height, z),
    ]
    region = painter.polygon(corners)
    if region is None:
        return
    u = region.u
    across = (u - u.min()) / max(float(u.max() - u.min()), 1.0) - 0.5
    shading = (0.75 + 0.5 * painter.style.sun_side * across)[..., None]  # (1, w, 1)
    painter.canvas.paint(region, painter.tone(colour * shading), painter.instance)


def _sign(
    canvas: Canvas, camera: Camera, pole: Pole, style: Style, rng: np.random.Generator
) -> None:
    painter = Painter(canvas, camera, style, pole.z, TRAFFIC_SIGN)
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
    painter = Painter(canvas, camera, style, pole.z, TRAFFIC_LIGHT)
    x, y, z = pole.x, pole.light_height, pole.z - 0.1
    housing = upright(x - 0.17, x + 0.17, y, y + 0.9, z)
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
    painter = Painter(canvas, camera, style, pole.z, POLE)
    colour = grey(rng, 0.3, 0.65) if rng.random() < 0.8 else jitter(rng, (0.15, 0.3, 0.2), 0.05)
    x, z, h = pole.x, pole.z, pole.height
    _column(painter, x, z, pole.width, 2 / 3, h, colour)
    if pole.arm:
        end = x + pole.arm
        painter.fill(painter.polygon(upright(min(x, end), max(x, end), h - 0.12, h, z)), colour)
        lamp = upright(end - 0.3, end + 0.3, h - 0.2, h - 0.05, z)
        painter.fill(painter.polygon(lamp), colour * 0.6)
    if pole.sign is not None:
        _sign(canvas, camera, pole, style, rng)
    if pole.light_height:
        _traffic_light(canvas, camera, pole, style, rng)


def _tree(
    canvas: Canvas, camera: Camera, tree: Tree, style: Style, rng: np.random.Generator
) -> None:
    painter = Painter(canvas, camera, style, tree.z, VEGETATION)
    x, z = tree.x, tree.z
    painter.round_shadow(x, z, 1.6, 1.2, 0.75)
    bark = jitter(rng, (0.3, 0.25, 0.2), 0.05)
    _column(painter, x, z, tree.trunk_width, 0.7, tree.trunk_height + 0.5, bark)

    dx, y, rx, ry = np.array(tree.lobes).T  # crown ellipses, metres
    cu, cv = camera.project(x + dx, y, z)
    ru, rv = camera.fx * rx / z, camera.fy * ry / z
    box = canvas.box(
        float((cu - ru).min()) - 1,
        float((cu + ru).max()) + 1,
        float((cv - rv).min()) - 1,
        float((cv + rv).max()) + 1,
    )
    if box is None:
        return
    inside = np.full(box.mask.shape, np.inf, dtype=np.float32)
    for u, v, a, b in zip(cu.tolist(), cv.tolist(), ru.tolist(), rv.tolist(), strict=True):
        inside = np.minimum(inside, ((box.u - u) / a) ** 2 + ((box.v - v) / b) ** 2)
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
    TwoWheeler: draw_two_wheeler,
}


def draw_things(
    canvas: Canvas, camera: Camera, layout: Layout, style: Style, rng: np.random.Generator
) -> None:
    """Draw every thing of `layout`, far to near, so nearer things cover farther ones."""
    liveries: dict[int, Livery] = {}  # by instance: the cars of a train share their colours
    for thing in layout.things:
        if isinstance(thing, TrainCar):
            if thing.instance not in liveries:
                liveries[thing.instance] = sample_livery(rng, style, thing.crosswise)
            draw_train_car(canvas, camera, thing, style, liveries[thing.instance])
        else:
            _DRAW[type(thing)](canvas, camera, thing, style, rng)
