"""The geometry of a street scene: everything that decides the label map, and nothing else.

A layout is drawn from its own random stream, apart from the scene's appearance (`style.py`), so
one layout (one label map) can be rendered as many different photos.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fullglow.data.labels import LABEL_BY_NAME

ROAD = LABEL_BY_NAME["road"].id
SIDEWALK = LABEL_BY_NAME["sidewalk"].id
BUILDING = LABEL_BY_NAME["building"].id
WALL = LABEL_BY_NAME["wall"].id
FENCE = LABEL_BY_NAME["fence"].id
POLE = LABEL_BY_NAME["pole"].id
TRAFFIC_LIGHT = LABEL_BY_NAME["traffic light"].id
TRAFFIC_SIGN = LABEL_BY_NAME["traffic sign"].id
VEGETATION = LABEL_BY_NAME["vegetation"].id
TERRAIN = LABEL_BY_NAME["terrain"].id
SKY = LABEL_BY_NAME["sky"].id
PERSON = LABEL_BY_NAME["person"].id
CAR = LABEL_BY_NAME["car"].id
TRUCK = LABEL_BY_NAME["truck"].id
BUS = LABEL_BY_NAME["bus"].id

SIGN_SHAPES = ("circle", "triangle", "square", "octagon", "diamond")


@dataclass(frozen=True)
class Band:
    """A strip of ground `x0 <= X < x1` along the whole street, of one class."""

    x0: float
    x1: float
    label: int


@dataclass(frozen=True)
class Segment:
    """One facade (or hedge, wall, fence) of a row along the street: `start <= t < end`, where
    `t` is Z on the sides of the street and X across its far end."""

    start: float
    end: float
    label: int
    height: float
    index: int  # position in the row, for per-segment appearance


@dataclass(frozen=True)
class Row:
    """A row of segments standing in the plane `X = offset` (sides) or `Z = offset` (far end)."""

    offset: float
    segments: tuple[Segment, ...]
    phases: tuple[float, float]  # of the sines that make hedge tops ragged

    def ends(self) -> np.ndarray:
        return np.array([s.end for s in self.segments])


@dataclass(frozen=True)
class Street:
    lane_width: float
    lane_centres: tuple[float, ...]  # evenly spaced, left to right
    oncoming_lanes: int  # the first lanes from the left carry oncoming traffic
    road: tuple[float, float]  # X of the left and right kerbs
    bands: tuple[Band, ...]
    left: Row
    right: Row
    end: Row


@dataclass(frozen=True)
class Vehicle:
    label: int  # CAR, TRUCK or BUS
    instance: int
    x: float
    z: float
    width: float
    height: float
    length: float
    oncoming: bool


@dataclass(frozen=True)
class Pedestrian:
    instance: int
    x: float
    z: float
    height: float
    stride: float  # metres between the feet, signed
    swing: float  # arm swing in metres


@dataclass(frozen=True)
class Pole:
    x: float
    z: float
    height: float
    width: float
    arm: float  # length of a lamp arm towards the road (signed metres), 0 for none
    sign: str | None
    sign_height: float
    sign_size: float
    light_height: float  # 0 for no traffic light


@dataclass(frozen=True)
class Tree:
    x: float
    z: float
    trunk_height: float
    trunk_width: float
    lobes: tuple[tuple[float, float, float, float], ...]  # (dx, y, rx, ry) of crown ellipses
    seed: int  # for the ragged crown outline


Thing = Vehicle | Pedestrian | Pole | Tree


@dataclass(frozen=True)
class Layout:
    street: Street
    things: tuple[Thing, ...]  # sorted far to near, the drawing order


_SEGMENT_KINDS = (  # label, lowest and highest top in metres
    (BUILDING, 7.0, 30.0),
    (VEGETATION, 3.0, 11.0),
    (WALL, 1.0, 2.6),
    (FENCE, 1.0, 2.2),
)


def _row(rng: np.random.Generator, offset: float, length: float, far_end: bool) -> Row:
    segments = []
    start = -1.0 if far_end else 0.0
    while start < length:
        end = start + rng.uniform(8.0, 28.0)
        # low walls and fences would let the ground show past the street's end
        kind = rng.choice(4, p=(0.85, 0.15, 0.0, 0.0) if far_end else (0.68, 0.14, 0.08, 0.1))
        label, low, high = _SEGMENT_KINDS[kind]
        segments.append(Segment(start, end, label, rng.uniform(low, high), len(segments)))
        start = end
    if far_end:  # the far end's segments span X, so the last must reach past the right side
        last = segments[-1]
        segments[-1] = Segment(last.start, np.inf, last.label, last.height, last.index)
    return Row(offset, tuple(segments), (rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)))


def _street(rng: np.random.Generator) -> Street:
    lane_width = rng.uniform(2.9, 3.6)
    n_lanes = int(rng.choice([1, 2, 3, 4], p=[0.2, 0.45, 0.2, 0.15]))
    own = int(rng.integers(n_lanes))
    two_way = n_lanes >= 2 and rng.random() < 0.6
    oncoming = int(rng.integers(1, own + 1)) if two_way and own > 0 else 0
    shift = rng.uniform(-0.4, 0.4)  # the camera is rarely in the middle of its lane
    centres = tuple((i - own) * lane_width + shift for i in range(n_lanes))
    left_kerb = centres[0] - lane_width / 2 - rng.uniform(0.0, 2.5)
    right_kerb = centres[-1] + lane_width / 2 + rng.uniform(0.0, 2.5)

    bands = [Band(left_kerb, right_kerb, ROAD)]
    facades = []
    for side, kerb in ((-1.0, left_kerb), (1.0, right_kerb)):
        edge = kerb
        layers = [(SIDEWALK, rng.uniform(2.0, 5.5))]
        if rng.random() < 0.25:
            layers.insert(0, (TERRAIN, rng.uniform(0.8, 2.5)))
        if rng.random() < 0.15:
            layers.append((TERRAIN, rng.uniform(1.0, 4.0)))
        for label, width in layers:
            outer = edge + side * width
            bands.append(Band(min(edge, outer), max(edge, outer), label))
            edge = outer
        facades.append(edge)
    end_z = rng.uniform(60.0, 160.0)
    return Street(
        lane_width=lane_width,
        lane_centres=centres,
        oncoming_lanes=oncoming,
        road=(left_kerb, right_kerb),
        bands=tuple(bands),
        left=_row(rng, facades[0], end_z, far_end=False),
        right=_row(rng, facades[1], end_z, far_end=False),
        end=_row(rng, end_z, facades[1] - facades[0], far_end=True),
    )


def _along_kerbs(
    rng: np.random.Generator,
    street: Street,
    chance: float,
    start: float,
    stop: float,
    gap: tuple[float, float],
) -> Iterator[tuple[float, float, float]]:
    """`(side, kerb x, z)` of a row of things along each kerb; each side has one with
    probability `chance`, its things spaced by `gap` from `start` to `stop` metres."""
    for side, kerb in ((-1.0, street.road[0]), (1.0, street.road[1])):
        if rng.random() < chance:
            for z in _positions(rng, start, stop, gap):
                yield side, kerb, z


def _positions(
    rng: np.random.Generator, start: float, stop: float, gap: tuple[float, float]
) -> list[float]:
    """Points from `start` to `stop` with random spacing in `gap`."""
    points, z = [], start + rng.uniform(0.0, gap[1])
    while z < stop:
        points.append(z)
        z += rng.uniform(*gap)
    return points


class _Instances:
    """Cityscapes instance ids: `label * 1000 + k` for the k-th object of a class."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def next(self, label: int) -> int:
        k = self.counts.get(label, 0)
        self.counts[label] = k + 1
        return label * 1000 + k


_VEHICLE_SIZES = {
    CAR: ((1.65, 1.35, 3.8), (1.95, 1.75, 4.9)),
    TRUCK: ((2.3, 2.8, 6.0), (2.55, 3.6, 9.0)),
    BUS: ((2.5, 2.9, 10.0), (2.55, 3.3, 12.5)),
}


def _vehicle(
    rng: np.random.Generator, ids: _Instances, x: float, z: float, oncoming: bool, parked: bool
) -> Vehicle:
    draw = rng.random()
    kind = CAR if parked or draw < 0.84 else TRUCK if draw < 0.92 else BUS
    low, high = _VEHICLE_SIZES[kind]  # width, height, length in metres
    width, height, length = rng.uniform(low, high).tolist()
    return Vehicle(kind, ids.next(kind), x, z, width, height, length, oncoming)


def _vehicles(rng: np.random.Generator, street: Street, ids: _Instances) -> list[Vehicle]:
    vehicles = []
    for lane, centre in enumerate(street.lane_centres):
        oncoming = lane < street.oncoming_lanes
        near = 9.0 if abs(centre) < street.lane_width / 2 else 4.0
        for z in _positions(rng, near, 90.0, (9.0, 40.0)):
            x = centre + rng.uniform(-0.3, 0.3)
            vehicles.append(_vehicle(rng, ids, x, z, oncoming, parked=False))
    for side, kerb, z in _along_kerbs(rng, street, 0.55, 3.0, 70.0, (5.2, 9.0)):
        if rng.random() < 0.75:  # parked cars, with gaps
            x = kerb - side * rng.uniform(1.05, 1.3)
            vehicles.append(_vehicle(rng, ids, x, z, rng.random() < 0.3, parked=True))
    # a parked car and a lane car can overlap: keep the nearer one
    kept: list[Vehicle] = []
    for v in sorted(vehicles, key=lambda v: v.z):
        if all(
            abs(v.x - k.x) > (v.width + k.width) / 2
            or v.z > k.z + k.length + 1.0
            or v.z + v.length + 1.0 < k.z
            for k in kept
        ):
            kept.append(v)
    return kept


def _sidewalks(street: Street) -> list[Band]:
    return [band for band in street.bands if band.label == SIDEWALK]


def _pedestrians(rng: np.random.Generator, street: Street, ids: _Instances) -> list[Pedestrian]:
    people = []
    for band in _sidewalks(street):
        for _ in range(rng.poisson(2.5)):
            x = rng.uniform(band.x0 + 0.4, band.x1 - 0.4)
            people.append(_pedestrian(rng, ids, x, rng.uniform(3.5, 50.0)))
    if rng.random() < 0.15:  # someone crossing the road
        people.append(_pedestrian(rng, ids, rng.uniform(*street.road), rng.uniform(6.0, 25.0)))
    return people


def _pedestrian(rng: np.random.Generator, ids: _Instances, x: float, z: float) -> Pedestrian:
    height = rng.uniform(1.0, 1.25) if rng.random() < 0.1 else rng.uniform(1.55, 1.95)
    stride = rng.uniform(-0.45, 0.45) * (rng.random() < 0.7)
    return Pedestrian(ids.next(PERSON), x, z, height, stride, rng.uniform(-0.15, 0.15))


def _poles(rng: np.random.Generator, street: Street) -> list[Pole]:
    poles = []
    for side, kerb, z in _along_kerbs(rng, street, 0.8, 3.0, 80.0, (10.0, 32.0)):
        height = rng.uniform(3.5, 8.5)
        has_sign = rng.random() < 0.4
        has_light = not has_sign and rng.random() < 0.2
        has_arm = height > 6.0 and rng.random() < 0.6
        poles.append(
            Pole(
                x=kerb + side * rng.uniform(0.3, 0.8),
                z=z,
                height=height,
                width=rng.uniform(0.12, 0.26),
                arm=-side * rng.uniform(0.8, 2.2) if has_arm else 0.0,
                sign=str(rng.choice(SIGN_SHAPES)) if has_sign else None,
                sign_height=rng.uniform(2.0, min(3.2, height - 0.3)),
                sign_size=rng.uniform(0.55, 0.9),
                light_height=rng.uniform(2.6, min(4.5, height - 0.2)) if has_light else 0.0,
            )
        )
    return poles


def _trees(rng: np.random.Generator, street: Street) -> list[Tree]:
    trees = []
    for side, kerb, z in _along_kerbs(rng, street, 0.45, 4.0, 90.0, (7.0, 16.0)):
        radius = rng.uniform(1.2, 3.0)
        trunk = rng.uniform(1.6, 3.2)
        # (dx, y, rx, ry) of 3 to 6 ellipses around the top of the trunk
        low = np.array([-0.5 * radius, trunk + 0.6 * radius, 0.55 * radius, 0.55 * radius])
        high = np.array([0.5 * radius, trunk + 1.3 * radius, 0.9 * radius, 0.95 * radius])
        lobes = rng.uniform(low, high, (int(rng.integers(3, 7)), 4))
        trees.append(
            Tree(
                x=kerb + side * rng.uniform(0.6, 1.4),
                z=z,
                trunk_height=trunk,
                trunk_width=rng.uniform(0.2, 0.45),
                lobes=tuple(map(tuple, lobes.tolist())),
                seed=int(rng.integers(2**31)),
            )
        )
    return trees


def sample_layout(rng: np.random.Generator) -> Layout:
    """A random street: its cross-section, facades and the things standing in it."""
    street = _street(rng)
    ids = _Instances()
    things: list[Thing] = [
        *_vehicles(rng, street, ids),
        *_pedestrians(rng, street, ids),
        *_poles(rng, street),
        *_trees(rng, street),
    ]
    things = [t for t in things if 2.5 < t.z < street.end.offset - 13.0]
    return Layout(street, tuple(sorted(things, key=lambda t: -t.z)))
