"""The geometry of a street scene: everything that decides the label map, and nothing else.

A layout is drawn from its own random stream, apart from the scene's appearance (`style.py`), so
one layout (one label map) can be rendered as many different photos.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from fullglow.data.labels import LABEL_BY_NAME
from fullglow.data.synthetic.camera import Camera
from fullglow.data.synthetic.things import (
    BICYCLE,
    BUS,
    CAR,
    MOTORCYCLE,
    PERSON,
    RIDER,
    TRAIN,
    TRUCK,
    TWO_WHEELER_SIZES,
    Extent,
    Pedestrian,
    Pole,
    Rider,
    Thing,
    TrainCar,
    Tree,
    TwoWheeler,
    Vehicle,
)

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

SIGN_SHAPES = ("circle", "triangle", "square", "octagon", "diamond")

TRACK_GAUGE = 1.435  # metres between the rails of a tram track


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
    tracks: tuple[float, ...] = ()  # X of the centre lines of tram tracks in the road


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


def _tram(
    rng: np.random.Generator, street: Street, ids: _Instances
) -> tuple[tuple[float, ...], list[TrainCar]]:
    """Tram tracks along one lane in some streets, and on them, in some of those, a tram of two to
    four cars joined by bellows, going the lane's way. Returns the tracks' X and the cars."""
    if rng.random() >= 0.14:
        return (), []
    lane = int(rng.integers(len(street.lane_centres)))
    x = street.lane_centres[lane]
    if rng.random() >= 0.6:
        return (x,), []
    half, height = rng.uniform(1.15, 1.32), rng.uniform(3.2, 3.6)
    instance = ids.next(TRAIN)
    count = int(rng.integers(2, 5))
    pantograph = int(rng.integers(count))
    z, cars = rng.uniform(7.0, 40.0), []
    for k in range(count):
        length = rng.uniform(7.0, 10.0)
        oncoming = lane < street.oncoming_lanes
        cars.append(
            TrainCar(
                instance,
                x - half,
                x + half,
                z,
                z + length,
                height,
                crosswise=False,
                cab=k == 0,
                oncoming=oncoming,
                pantograph=k == pantograph,
                joint=k > 0,
            )
        )
        z += length + 0.5
    return (x,), cars


def _outside_in(car: TrainCar) -> float:
    """Drawing order of the cars of a train at one depth: a car whose inner end lies farther to
    the side comes first, so that nearer-to-the-axis cars cover its end face."""
    return 0.0 if car.x0 < 0.0 < car.x1 else -min(abs(car.x0), abs(car.x1))


def _railway(rng: np.random.Generator, street: Street, ids: _Instances) -> list[TrainCar]:
    """In some streets a train crosses the far end, coming out from behind one row of facades;
    its head is in the street or behind the other row. Cars are listed outside in, the order in
    which they must be drawn (they stand at one depth)."""
    if rng.random() >= 0.1:
        return []
    left, right = street.left.offset, street.right.offset
    z = street.end.offset - rng.uniform(4.5, 6.5)
    height = rng.uniform(3.8, 4.3)
    head = right if rng.random() < 0.5 else left + rng.uniform(0.35, 0.9) * (right - left)
    mirrored = rng.random() < 0.5  # the head points left: flip the street
    instance = ids.next(TRAIN)
    cars, end = [], head
    while end > left:
        start = max(end - rng.uniform(18.0, 25.0), left)
        x0, x1 = (left + right - end, left + right - start) if mirrored else (start, end)
        cab = end == head and head < right
        cars.append(
            TrainCar(
                instance,
                x0,
                x1,
                z,
                z + 3.0,
                height,
                crosswise=True,
                cab=cab,
                oncoming=False,
                pantograph=False,
                joint=False,
            )
        )
        end = start - 1.0
    return sorted(cars, key=_outside_in)


def _rider(rng: np.random.Generator, ids: _Instances, label: int) -> Rider:
    helmet = label == MOTORCYCLE or rng.random() < 0.4
    return Rider(ids.next(RIDER), rng.uniform(1.6, 1.95), rng.uniform(0.0, 2 * np.pi), helmet)


class _Placing(NamedTuple):
    """A two-wheeler the layout would place; those of one `group` (a rack) may stand close."""

    label: int
    x: float
    z: float  # the centre of its footprint
    forward: tuple[float, float]
    ridden: bool
    group: int


def _two_wheelers(
    rng: np.random.Generator, street: Street, ids: _Instances, taken: list[Extent]
) -> list[TwoWheeler]:
    """Ridden bicycles and motorcycles in the lanes (cyclists keep to their right), bicycles
    parked across the sidewalk at racks, and motorcycles parked at the kerb. One whose footprint
    meets a taken one (but for those of its own rack) is left out."""
    placings: list[_Placing] = []
    for lane, centre in enumerate(street.lane_centres):
        ahead = -1.0 if lane < street.oncoming_lanes else 1.0
        for _ in range(rng.poisson(0.5)):
            label = BICYCLE if rng.random() < 0.65 else MOTORCYCLE
            keep = 0.28 if label == BICYCLE else 0.0
            x = centre + ahead * street.lane_width * (keep + rng.uniform(-0.12, 0.12))
            z = rng.uniform(6.0, 45.0)
            placings.append(_Placing(label, x, z, (0.0, ahead), True, len(placings)))
    for side, kerb in ((-1.0, street.road[0]), (1.0, street.road[1])):
        if rng.random() < 0.35:  # a rack of bicycles across the sidewalk
            length = TWO_WHEELER_SIZES[BICYCLE][0]
            x = kerb + side * (length / 2 + rng.uniform(0.3, 0.6))
            z, rack = rng.uniform(4.0, 35.0), len(placings)
            for _ in range(int(rng.integers(2, 6))):
                forward = (side if rng.random() < 0.5 else -side, 0.0)
                placings.append(_Placing(BICYCLE, x, z, forward, False, rack))
                z += rng.uniform(0.65, 0.9)
        if rng.random() < 0.15:  # motorcycles parked at the kerb, along it or backed onto it
            for z in _positions(rng, 4.0, 40.0, (3.0, 12.0))[: int(rng.integers(1, 3))]:
                if rng.random() < 0.5:
                    x = kerb - side * rng.uniform(0.5, 0.8)
                    forward = (0.0, 1.0 if rng.random() < 0.5 else -1.0)
                else:
                    x = kerb - side * (TWO_WHEELER_SIZES[MOTORCYCLE][0] / 2 + rng.uniform(0.1, 0.3))
                    forward = (-side, 0.0)
                placings.append(_Placing(MOTORCYCLE, x, z, forward, False, len(placings)))
    kept, groups = [], [-1] * len(taken)
    for placing in placings:
        length, width = TWO_WHEELER_SIZES[placing.label]
        near = placing.z - (length if placing.forward[0] == 0 else width) / 2
        footprint = TwoWheeler(placing.label, 0, placing.x, near, placing.forward, None).footprint()
        if any(
            footprint.meets(other, 0.3)
            for other, group in zip(taken, groups, strict=True)
            if group != placing.group
        ):
            continue
        rider = _rider(rng, ids, placing.label) if placing.ridden else None
        instance = ids.next(placing.label)
        kept.append(TwoWheeler(placing.label, instance, placing.x, near, placing.forward, rider))
        taken.append(footprint)
        groups.append(placing.group)
    return kept


def _unhidden(things: list[Thing], camera: Camera) -> list[Thing]:
    """`things` (in drawing order) less the ridden two-wheelers that the frame cuts or that a
    thing drawn after them could cover, so that every rider shows beside what it rides."""
    kept: list[Thing] = []
    covers: list[tuple[float, float, float, float]] = []  # pixel boxes of the things kept so far
    margin = 2.0  # pixels: rods may be drawn thicker than their extents
    for thing in reversed(things):
        boxes = [extent.on_screen(camera) for extent in thing.extents()]
        if isinstance(thing, TwoWheeler) and thing.rider is not None:
            u0, u1, v0, v1 = boxes[0]
            framed = u0 >= margin and v0 >= margin
            framed &= u1 <= camera.width - margin and v1 <= camera.height - margin
            if not framed or any(
                u0 < b[1] + margin
                and b[0] < u1 + margin
                and v0 < b[3] + margin
                and b[2] < v1 + margin
                for b in covers
            ):
                continue
        kept.append(thing)
        covers.extend(boxes)
    return kept[::-1]


def sample_layout(rng: np.random.Generator, camera: Camera) -> Layout:
    """A random street: its cross-section, facades and the things standing in it, seen by
    `camera` (which decides where riders can be seen)."""
    street = _street(rng)
    ids = _Instances()
    things: list[Thing] = [
        *_vehicles(rng, street, ids),
        *_pedestrians(rng, street, ids),
        *_poles(rng, street),
        *_trees(rng, street),
    ]
    # the things below come last from the stream, so that those above keep their places
    tracks, tram = _tram(rng, street, ids)
    street = replace(street, tracks=tracks)
    things = [
        t
        for t in things
        if not isinstance(t, Vehicle | Pedestrian)
        or not any(t.footprint().meets(car.footprint(), 0.5) for car in tram)
    ]
    things = [t for t in (*things, *tram) if 2.5 < t.z < street.end.offset - 13.0]
    things += _two_wheelers(rng, street, ids, [t.footprint() for t in things])
    things += _railway(rng, street, ids)
    ordered = sorted(things, key=lambda t: -t.z)
    return Layout(street, tuple(_unhidden(ordered, camera)))
