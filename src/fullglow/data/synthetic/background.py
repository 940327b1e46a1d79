"""The street itself, ray cast per pixel: ground, the two rows of facades, the far end, the sky.

Every pixel's ray `(X, Y, Z) = (du Z, eye - dv Z, Z)`, with `du = (u - cx) / fx` and
`dv = (v - horizon) / fy`, meets the ground `Y = 0` at `Z = eye / dv`, a side row `X = offset` at
`Z = offset / du`, or the far end at `Z = end_z`. Each column meets one vertical surface at most,
which covers the rows between its top edge and its foot; the other rows below the horizon see the
ground, those above it the sky. Textures are functions of the hit's world coordinates, so they
recede in perspective.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.canvas import Canvas, fractal_noise, grain, smooth_noise
from fullglow.data.synthetic.layout import (
    BUILDING,
    FENCE,
    ROAD,
    SIDEWALK,
    SKY,
    TERRAIN,
    TRACK_GAUGE,
    VEGETATION,
    WALL,
    Row,
    Street,
)
from fullglow.data.synthetic.style import FACADE_PALETTE, Style, grey, pick

_GROUND = 0  # surface index of the ground; the rows left, right and far end are 1, 2, 3


def _fract(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _segment_heights(row: Row, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index and top height (with ragged hedge tops) at positions `t` along `row`."""
    index = np.minimum(np.searchsorted(row.ends(), t, side="right"), len(row.segments) - 1)
    height = np.array([s.height for s in row.segments])[index]
    is_hedge = np.array([s.label == VEGETATION for s in row.segments])[index]
    ragged = 0.35 * np.sin(t * 2.1 + row.phases[0]) + 0.25 * np.sin(t * 5.3 + row.phases[1])
    return index, height + np.where(is_hedge, ragged, 0.0)


class _Points(NamedTuple):
    """Points on facades: their segment, metres from the segment's start, and height."""

    index: np.ndarray
    s: np.ndarray
    y: np.ndarray


class _Facades:
    """Per-segment appearance of one row, drawn from the style stream."""

    def __init__(self, row: Row, style: Style, rng: np.random.Generator, light: float) -> None:
        n = len(row.segments)
        self.style, self.rng, self.light = style, rng, light
        self.colour = np.stack([pick(rng, FACADE_PALETTE, 0.07) for _ in range(n)])
        self.wall_colour = np.stack([grey(rng, 0.45, 0.75, 0.05) for _ in range(n)])
        self.floor = rng.uniform(2.8, 3.8, n)
        self.spacing = rng.uniform(1.8, 3.4, n)
        self.window_width = rng.uniform(0.3, 0.65, n)
        self.window_height = rng.uniform(0.35, 0.6, n)
        self.shops = rng.random(n) < 0.5
        self.slat = rng.uniform(0.08, 0.25, n)
        self.top = np.array([s.height for s in row.segments])
        self.label = np.array([s.label for s in row.segments], dtype=np.uint8)
        self.start = np.array([s.start for s in row.segments])

    def shade(self, index: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colours `(N, 3)` of facade points at segment `index`, position `t`, height `y`."""
        points = _Points(index, t - self.start[index], y)
        label = self.label[index]
        colour = np.empty((t.size, 3), dtype=np.float32)
        painters = {
            BUILDING: self._building,
            VEGETATION: self._hedge,
            WALL: self._wall,
            FENCE: self._fence,
        }
        for kind, paint in painters.items():
            part = label == kind
            if part.any():
                colour[part] = paint(_Points(*(a[part] for a in points)))
        return colour * self.light

    def _building(self, p: _Points) -> np.ndarray:
        style, index, s, y = self.style, p.index, p.s, p.y
        colour = self.colour[index] * (1.0 + 0.05 * _grain(self.rng, s.size))
        # windows: a grid in the facade plane, one row per floor above the ground floor
        level = y / self.floor[index]
        floor, in_floor = np.floor(level), _fract(level)
        bay = s / self.spacing[index]
        across = np.abs(_fract(bay) - 0.5)
        half_width = self.window_width[index] / 2
        window = (floor >= 1) & (y < self.top[index] - 0.8) & (across < half_width)
        window &= (in_floor > 0.3) & (in_floor < 0.3 + self.window_height[index])
        shop = self.shops[index] & (floor == 0) & (in_floor > 0.12) & (in_floor < 0.8)
        shop &= across < 0.42
        sill = (floor >= 1) & (in_floor > 0.24) & (in_floor < 0.3) & (across < half_width + 0.05)
        cornice = y > self.top[index] - 0.35
        seam = s < 0.15  # between two houses
        colour[sill | cornice | seam] *= 0.75
        glass = window | shop
        # each pane reflects a little differently: a cheap hash of its floor and bay
        pane = (floor[glass] * 7 + np.floor(bay[glass]) * 13 + index[glass] * 5) % 11 / 11.0
        colour[glass] = (
            style.window * (0.6 + 0.8 * pane)[:, None]
            + (0.35 * (1.0 - in_floor[glass]))[:, None] * style.sky_horizon
        )
        return colour

    def _hedge(self, p: _Points) -> np.ndarray:
        return self.style.vegetation * (0.55 + 0.45 * np.abs(_grain(self.rng, p.s.size)))

    def _wall(self, p: _Points) -> np.ndarray:
        colour = self.wall_colour[p.index] * (1.0 + 0.08 * _grain(self.rng, p.s.size))
        colour[p.y > self.top[p.index] - 0.15] *= 1.15  # the coping
        return colour

    def _fence(self, p: _Points) -> np.ndarray:
        slat = _fract(p.s / self.slat[p.index]) < 0.45
        return np.where(
            slat[:, None], self.wall_colour[p.index] * 0.8, self.style.vegetation * 0.35
        )


def _grain(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-pixel texture `(n, 1)` float32."""
    return grain(rng, (n, 1))


def _ground(
    rng: np.random.Generator,
    style: Style,
    street: Street,
    camera: Camera,
    x: np.ndarray,
    z: np.ndarray,
    label: np.ndarray,
) -> np.ndarray:
    """Colours `(N, 3)` of ground points `(x, 0, z)` of classes `label`."""
    colour = np.empty((x.size, 3), dtype=np.float32)
    part = label == ROAD  # asphalt grain, darker tyre tracks, paint
    xr, zr = x[part], z[part]
    road = style.road * (1.0 + style.road_texture * _grain(rng, xr.size))
    lane = (xr - street.lane_centres[0]) / street.lane_width + 0.5  # lane i spans [i, i + 1)
    from_centre = np.abs(_fract(lane) - 0.5) * street.lane_width
    road[np.abs(from_centre - 0.75) < 0.3] *= 0.9  # tyre tracks
    for track in street.tracks:  # grooved tram rails, flush with the asphalt
        from_rail = np.abs(xr - track) - TRACK_GAUGE / 2
        road[np.abs(from_rail) < 0.035] = style.kerb * 0.8
        road[(from_rail > -0.08) & (from_rail < -0.035)] = style.road * 0.4
    paint = _markings(style, street, xr, lane, zr)
    road[paint] = style.marking * (0.85 + 0.1 * _grain(rng, int(paint.sum())))
    colour[part] = road

    part = label == SIDEWALK  # paving, whose joints fade out where a pixel covers several tiles
    xs, zs = x[part], z[part]
    footprint = zs * zs / (camera.fy * camera.eye) / style.tile_size
    joint = (_fract(xs / style.tile_size) < 0.07) | (_fract(zs / style.tile_size) < 0.07)
    contrast = np.clip(1.5 - 3.0 * footprint, 0.0, 1.0) * 0.25
    sidewalk = (
        style.sidewalk * (1.0 - contrast * joint + 0.05 * _grain(rng, xs.size)[:, 0])[:, None]
    )
    sidewalk[(np.abs(xs - street.road[0]) < 0.2) | (np.abs(xs - street.road[1]) < 0.2)] = style.kerb
    colour[part] = sidewalk

    part = label == TERRAIN
    colour[part] = style.terrain * (1.0 + 0.18 * _grain(rng, int(part.sum())))
    return colour


def _markings(
    style: Style, street: Street, x: np.ndarray, lane: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Painted road points `(x, 0, z)`; `lane` is x in lanes (lane `i` spans `[i, i + 1)`)."""
    width = street.lane_width
    boundary = np.rint(lane)
    line = (np.abs(lane - boundary) * width < 0.07) & (boundary >= 1)
    line &= boundary <= len(street.lane_centres) - 1
    dashed = _fract(z / 9.0) < 0.35
    if not style.dashed_centre:  # a solid line between the two directions
        dashed |= boundary == street.oncoming_lanes
    paint = line & dashed
    if style.edge_lines:
        paint |= np.abs(x - (street.road[0] + 0.35)) < 0.07
        paint |= np.abs(x - (street.road[1] - 0.35)) < 0.07
    if style.crosswalk_z:
        crossing = (z > style.crosswalk_z) & (z < style.crosswalk_z + 4.0)
        paint |= crossing & (_fract(x) < 0.5)
    return paint


def _sky(
    rng: np.random.Generator, style: Style, camera: Camera, shape: tuple[int, int]
) -> np.ndarray:
    """The sky `(rows, W, 3)` over the rows above the horizon (rays below it meet the ground)."""
    rows = min(max(int(np.ceil(camera.horizon)), 1), shape[0])
    v = (np.arange(rows, dtype=np.float32) + 0.5)[:, None, None]
    t = np.clip(v / max(camera.horizon, 1.0), 0.0, 1.0) ** 0.8
    gradient = style.sky_top * (1.0 - t) + style.sky_horizon * t
    clouds = fractal_noise(rng, (rows, shape[1]), (2, 4), octaves=3)
    cover = np.clip((clouds - (1.0 - 2.0 * style.cloud_cover)) * 0.8, 0.0, 1.0)[..., None]
    return gradient * (1.0 - cover) + style.cloud_colour * cover


def _haze_weight(style: Style, depth: np.ndarray) -> np.ndarray:
    """How much of the haze colour `(n, 1)` float32 shows at distances `depth` `(n,)`."""
    with np.errstate(over="ignore"):
        return (1.0 - np.exp(-depth.astype(np.float32) / style.fog_distance))[:, None]


def _fogged(style: Style, colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Colours `(N, 3)` blended towards the haze by `weight` `(N, 1)`."""
    return colour + (style.haze - colour) * weight


def _columns(camera: Camera, street: Street, du: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each column: which row it meets (1 left, 2 right, 3 far end, -1 none), the depth, the
    position along the row, the segment and the segment's top (with ragged hedge tops).

    A column's ray meets at most one vertical surface: the side facades stop at the far end's
    plane, and the far end spans only the X between them.
    """
    width = du.size
    kind = np.full(width, -1)
    depth = np.full(width, np.inf)
    along = np.zeros(width)
    end_z = street.end.offset
    with np.errstate(divide="ignore"):
        for k, (row, sign) in enumerate(((street.left, -1.0), (street.right, 1.0)), start=1):
            z = np.where(du * sign > 0, row.offset / du, np.inf)
            hit = z < end_z
            kind[hit], depth[hit], along[hit] = k, z[hit], z[hit]
    end_x = du * end_z
    hit = (kind < 0) & (end_x > street.left.offset) & (end_x < street.right.offset)
    kind[hit], depth[hit], along[hit] = 3, end_z, end_x[hit] - street.left.offset
    segment = np.zeros(width, dtype=np.intp)
    top = np.zeros(width)
    for k, row in enumerate((street.left, street.right, street.end), start=1):
        cols = kind == k
        segment[cols], top[cols] = _segment_heights(row, along[cols])
    return kind, depth, along, segment, top


def render_background(
    canvas: Canvas, camera: Camera, street: Street, style: Style, rng: np.random.Generator
) -> None:
    """Paint the street's ground, facades, far end and sky onto every pixel of `canvas`."""
    shape = (canvas.height, canvas.width)
    du = (np.arange(canvas.width) + 0.5 - camera.cx) / camera.fx
    v = np.arange(canvas.height, dtype=np.float32) + 0.5
    dv = (v - camera.horizon) / camera.fy
    kind, depth, along, segment, top = _columns(camera, street, du)

    # a vertical surface at depth z with top height h covers the rows between its top edge and
    # its foot; below the horizon, everything else is ground (also above low walls), and the
    # rest is sky
    with np.errstate(divide="ignore", invalid="ignore"):
        foot = camera.horizon + camera.fy * camera.eye / depth
        head = camera.horizon + camera.fy * (camera.eye - top) / depth
    vertical = (v[:, None] >= head[None, :]) & (v[:, None] < foot[None, :])
    surface = np.where(vertical, kind[None, :], np.where(dv > 0, _GROUND, -1)[:, None])

    sky = _sky(rng, style, camera, shape)
    canvas.photo[: sky.shape[0]] = sky
    canvas.instance[:] = SKY
    lit_left = style.lit if style.sun_side > 0 else style.shade
    lit_right = style.shade if style.sun_side > 0 else style.lit
    lights = (lit_left, lit_right, 0.5 * (style.lit + style.shade))
    haze = _haze_weight(style, depth)  # depth depends on the column only
    for k, (row, light) in enumerate(
        zip((street.left, street.right, street.end), lights, strict=True), start=1
    ):
        rows, cols = np.nonzero(surface == k)
        if not rows.size:
            continue
        z = depth[cols].astype(np.float32)
        y = camera.eye - dv[rows] * z
        facades = _Facades(row, style, rng, light)
        index = segment[cols]
        colour = facades.shade(index, along[cols].astype(np.float32), y)
        canvas.photo[rows, cols] = _fogged(style, colour, haze[cols])
        canvas.instance[rows, cols] = facades.label[index]

    rows, cols = np.nonzero(surface == _GROUND)
    with np.errstate(divide="ignore"):
        ground_depth = camera.eye / dv  # depends on the row only; inf above the horizon
    z = ground_depth[rows]
    x = du[cols].astype(np.float32) * z
    label = np.full(z.shape, TERRAIN, dtype=np.uint8)  # behind low walls and fences
    for band in street.bands:
        label[(x >= band.x0) & (x < band.x1)] = band.label
    colour = _ground(rng, style, street, camera, x, z, label)
    colour *= (1.0 + 0.08 * smooth_noise(rng, shape, (3, 6))[rows, cols])[:, None]
    if style.sunny:  # the sunward row's facades shade a strip of the ground
        row = street.right if style.sun_side > 0 else street.left
        _, height = _segment_heights(row, z)
        reach = row.offset - np.sign(row.offset) * height * style.shadow_length
        colour[(x > reach) if style.sun_side > 0 else (x < reach)] *= style.shade / style.lit
    canvas.photo[rows, cols] = _fogged(style, colour, _haze_weight(style, ground_depth)[rows])
    canvas.instance[rows, cols] = label
