"""The things standing in a street, as the layout places them: cars, trucks and buses, people,
poles, trees, bicycles and motorcycles with their riders, and the cars of trams and trains.

Each knows its footprint on the ground and the boxes that hold all it draws (`Extent`), which is
all the layout needs of shapes: to keep things apart, and to find what may hide what on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fullglow.data.labels import LABEL_BY_NAME
from fullglow.data.synthetic.camera import Camera

PERSON = LABEL_BY_NAME["person"].id
RIDER = LABEL_BY_NAME["rider"].id
CAR = LABEL_BY_NAME["car"].id
TRUCK = LABEL_BY_NAME["truck"].id
BUS = LABEL_BY_NAME["bus"].id
TRAIN = LABEL_BY_NAME["train"].id
MOTORCYCLE = LABEL_BY_NAME["motorcycle"].id
BICYCLE = LABEL_BY_NAME["bicycle"].id


class Extent(NamedTuple):
    """An axis-aligned box `[x0, x1] x [y0, y1] x [z0, z1]` (metres) that holds a thing or a
    part of it: what the layout knows of shapes, to keep things apart and find what hides what."""

    x0: float
    x1: float
    y0: float
    y1: float
    z0: float
    z1: float

    def meets(self, other: Extent, margin: float) -> bool:
        """Whether the two boxes, seen from above, come closer than `margin` metres."""
        return (
            self.x0 < other.x1 + margin
            and other.x0 < self.x1 + margin
            and self.z0 < other.z1 + margin
            and other.z0 < self.z1 + margin
        )

    def on_screen(self, camera: Camera) -> tuple[float, float, float, float]:
        """`(u0, u1, v0, v1)`: the pixel box of the box's projection (requires `z0 > 0`)."""
        us = [camera.cx + camera.fx * x / z for x in (self.x0, self.x1) for z in (self.z0, self.z1)]
        vs = [
            camera.horizon + camera.fy * (camera.eye - y) / z
            for y in (self.y0, self.y1)
            for z in (self.z0, self.z1)
        ]
        return min(us), max(us), min(vs), max(vs)


class _Standing:
    """A thing whose footprint's box holds all it draws."""

    def footprint(self) -> Extent:
        raise NotImplementedError

    def extents(self) -> tuple[Extent, ...]:
        """The boxes that hold all it draws: its footprint's, unless it says otherwise."""
        return (self.footprint(),)


@dataclass(frozen=True)
class Vehicle(_Standing):
    label: int  # CAR, TRUCK or BUS
    instance: int
    x: float
    z: float
    width: float
    height: float
    length: float
    oncoming: bool

    def footprint(self) -> Extent:
        half = self.width / 2
        return Extent(self.x - half, self.x + half, 0.0, self.height, self.z, self.z + self.length)


@dataclass(frozen=True)
class Pedestrian(_Standing):
    instance: int
    x: float
    z: float
    height: float
    stride: float  # metres between the feet, signed
    swing: float  # arm swing in metres

    def footprint(self) -> Extent:
        # arms, feet and the swing of both, with room to spare
        half = 0.45 * self.height / 1.75 + abs(self.swing) + abs(self.stride) / 2
        return Extent(self.x - half, self.x + half, 0.0, self.height, self.z - 0.3, self.z + 0.3)


@dataclass(frozen=True)
class Pole(_Standing):
    x: float
    z: float
    height: float
    width: float
    arm: float  # length of a lamp arm towards the road (signed metres), 0 for none
    sign: str | None
    sign_height: float
    sign_size: float
    light_height: float  # 0 for no traffic light

    def footprint(self) -> Extent:
        half = max(self.width / 2, self.sign_size / 2 if self.sign else 0.0, 0.17)
        # a sign or a traffic light may stand a little above the top of its pole
        top = max(self.height, self.sign_height + self.sign_size / 2, self.light_height + 0.9)
        return Extent(self.x - half, self.x + half, 0.0, top, self.z - 0.15, self.z + 0.05)

    def extents(self) -> tuple[Extent, ...]:
        if not self.arm:
            return (self.footprint(),)
        x0, x1 = sorted((self.x, self.x + self.arm))
        arm = Extent(x0 - 0.3, x1 + 0.3, self.height - 0.2, self.height, self.z, self.z)
        return self.footprint(), arm


@dataclass(frozen=True)
class Tree(_Standing):
    x: float
    z: float
    trunk_height: float
    trunk_width: float
    lobes: tuple[tuple[float, float, float, float], ...]  # (dx, y, rx, ry) of crown ellipses
    seed: int  # for the ragged crown outline

    def footprint(self) -> Extent:
        half = self.trunk_width / 2
        return Extent(self.x - half, self.x + half, 0.0, self.trunk_height + 0.5, self.z, self.z)

    def extents(self) -> tuple[Extent, ...]:
        dx, y, rx, ry = np.array(self.lobes).T
        crown = Extent(
            self.x + float((dx - rx).min()),
            self.x + float((dx + rx).max()),
            float((y - ry).min()),
            float((y + ry).max()),
            self.z,
            self.z,
        )
        return self.footprint(), crown


@dataclass(frozen=True)
class Rider:
    """The person on a bicycle or motorcycle (Cityscapes' `rider`, its own instance)."""

    instance: int
    height: float
    crank: float  # angle of the bicycle's cranks, radians: where the feet are
    helmet: bool


# length and width (metres), with the rider's arms reaching for the grips
TWO_WHEELER_SIZES = {BICYCLE: (1.75, 0.7), MOTORCYCLE: (2.15, 0.9)}


@dataclass(frozen=True)
class TwoWheeler(_Standing):
    """A bicycle or motorcycle, ridden (along the street) or parked (along or across it)."""

    label: int  # BICYCLE or MOTORCYCLE
    instance: int
    x: float  # the centre of its footprint
    z: float  # the nearest Z of its footprint, its drawing depth (as a vehicle's)
    forward: tuple[float, float]  # the unit (dX, dZ) it points along: (0, ±1) or (±1, 0)
    rider: Rider | None

    def centre_z(self) -> float:
        return self.z + self.footprint_size()[1] / 2

    def footprint_size(self) -> tuple[float, float]:
        """Its extent along X and along Z."""
        length, width = TWO_WHEELER_SIZES[self.label]
        return (width, length) if self.forward[0] == 0 else (length, width)

    def footprint(self) -> Extent:
        across, along = self.footprint_size()
        top = 2.05 if self.rider is not None else 1.3
        return Extent(self.x - across / 2, self.x + across / 2, 0.0, top, self.z, self.z + along)


@dataclass(frozen=True)
class TrainCar(_Standing):
    """One car of a train, the box `[x0, x1] x [0, height] x [z, z1]`; the cars of a train share
    its instance id. A tram runs along the street on tracks in a lane, a railway train across the
    street's far end."""

    instance: int
    x0: float
    x1: float
    z: float  # the near end: the drawing depth
    z1: float
    height: float
    crosswise: bool  # a railway car (along X) rather than a tram car (along Z)
    cab: bool  # its end towards the camera is a driver's cab
    oncoming: bool  # a tram whose cab faces the camera (headlights rather than tail lights)
    pantograph: bool  # the current collector on its roof
    joint: bool  # a bellows joins its near end to the next car

    def footprint(self) -> Extent:
        return Extent(self.x0, self.x1, 0.0, self.height, self.z - 0.5 * self.joint, self.z1)

    def extents(self) -> tuple[Extent, ...]:
        top = self.height + 1.2 * self.pantograph
        return (self.footprint()._replace(y1=top),)


Thing = Vehicle | Pedestrian | Pole | Tree | TwoWheeler | TrainCar
