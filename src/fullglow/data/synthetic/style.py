"""The appearance of a scene: light, weather and the colours of every surface.

A style is drawn from its own random stream, apart from the layout, so that the same label map can
be rendered as many photos. Colours are linear RGB in [0, 1]; every class keeps a plausible range
(asphalt is grey, vegetation green, sky blue-grey) so a segmentation network can learn the classes,
while hue, brightness and texture vary from image to image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Style:
    sunny: bool
    sun_side: float  # +1: the sun shines from the right (right facades are in shade)
    light: np.ndarray  # (3,) colour of the light, multiplies the whole image
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    cloud_colour: np.ndarray
    cloud_cover: float
    haze: np.ndarray  # colour of distant air
    fog_distance: float  # metres at which objects are 63% haze
    lit: float  # brightness of sunlit faces
    shade: float  # brightness of faces turned from the sun
    shadow_length: float  # ground shadow = facade height * shadow_length (sunny only)
    road: np.ndarray
    road_texture: float
    marking: np.ndarray
    sidewalk: np.ndarray
    tile_size: float
    kerb: np.ndarray
    terrain: np.ndarray
    vegetation: np.ndarray
    window: np.ndarray
    noise_sigma: float
    blur_radius: float  # relative to a 256-pixel-high image
    vignette: float
    dashed_centre: bool
    edge_lines: bool
    crosswalk_z: float  # 0 for none


def jitter(
    rng: np.random.Generator, colour: tuple[float, float, float] | np.ndarray, spread: float
) -> np.ndarray:
    """`colour` with independent per-channel noise of size `spread`, clipped to [0, 1]."""
    return np.clip(np.asarray(colour) + rng.uniform(-spread, spread, 3), 0.0, 1.0).astype(
        np.float32
    )


def grey(rng: np.random.Generator, low: float, high: float, tint: float = 0.03) -> np.ndarray:
    return jitter(rng, np.full(3, rng.uniform(low, high)), tint)


FACADE_PALETTE = (
    (0.78, 0.72, 0.6),  # sandstone
    (0.85, 0.82, 0.74),  # cream plaster
    (0.6, 0.3, 0.22),  # red brick
    (0.5, 0.5, 0.5),  # concrete
    (0.8, 0.7, 0.45),  # ochre
    (0.68, 0.55, 0.5),  # pink plaster
    (0.62, 0.66, 0.7),  # blue-grey
    (0.35, 0.33, 0.32),  # dark stone
    (0.9, 0.9, 0.88),  # white
)

CAR_PALETTE = (
    (0.9, 0.9, 0.9),
    (0.06, 0.06, 0.07),
    (0.55, 0.56, 0.58),
    (0.3, 0.31, 0.33),
    (0.1, 0.18, 0.45),
    (0.55, 0.06, 0.06),
    (0.15, 0.3, 0.2),
    (0.7, 0.6, 0.45),
    (0.85, 0.75, 0.2),
)

CLOTHES_PALETTE = (
    (0.08, 0.08, 0.1),
    (0.15, 0.18, 0.3),
    (0.6, 0.6, 0.62),
    (0.75, 0.15, 0.15),
    (0.2, 0.35, 0.6),
    (0.85, 0.85, 0.8),
    (0.4, 0.3, 0.2),
    (0.25, 0.4, 0.25),
    (0.85, 0.6, 0.2),
)

SKIN_PALETTE = ((0.87, 0.7, 0.58), (0.72, 0.52, 0.4), (0.45, 0.3, 0.22), (0.95, 0.8, 0.7))


def pick(
    rng: np.random.Generator, palette: tuple[tuple[float, float, float], ...], spread: float
) -> np.ndarray:
    return jitter(rng, palette[int(rng.integers(len(palette)))], spread)


def sample_style(rng: np.random.Generator) -> Style:
    """A random appearance: sunny, overcast or dusk, with per-class colours."""
    weather = rng.choice(3, p=(0.5, 0.35, 0.15))
    sunny = weather == 0
    if weather == 0:  # sunny
        light = jitter(rng, (1.0, 0.97, 0.9), 0.04)
        sky_top = jitter(rng, (0.25, 0.45, 0.82), 0.08)
        sky_horizon = jitter(rng, (0.72, 0.82, 0.94), 0.05)
        lit, shade = rng.uniform(1.0, 1.2), rng.uniform(0.45, 0.7)
    elif weather == 1:  # overcast
        light = jitter(rng, (0.92, 0.94, 1.0), 0.03)
        sky_top = grey(rng, 0.55, 0.75, 0.04)
        sky_horizon = grey(rng, 0.75, 0.92, 0.03)
        lit, shade = rng.uniform(0.9, 1.0), rng.uniform(0.75, 0.9)
    else:  # dusk
        light = jitter(rng, (1.0, 0.82, 0.65), 0.05)
        sky_top = jitter(rng, (0.25, 0.3, 0.55), 0.06)
        sky_horizon = jitter(rng, (0.95, 0.7, 0.45), 0.06)
        lit, shade = rng.uniform(0.8, 0.95), rng.uniform(0.5, 0.7)
    exposure = rng.uniform(0.8, 1.15)
    return Style(
        sunny=bool(sunny),
        sun_side=float(rng.choice([-1.0, 1.0])),
        light=light * exposure,
        sky_top=sky_top,
        sky_horizon=sky_horizon,
        cloud_colour=grey(rng, 0.85, 1.0, 0.02) * (0.9 if weather == 1 else 1.0),
        cloud_cover=rng.uniform(0.0, 0.6) if weather != 1 else rng.uniform(0.5, 1.0),
        haze=0.5 * (sky_horizon + grey(rng, 0.7, 0.85)),
        fog_distance=rng.uniform(70.0, 350.0),
        lit=lit,
        shade=shade,
        shadow_length=rng.uniform(0.3, 1.2),
        road=grey(rng, 0.2, 0.42, 0.025),
        road_texture=rng.uniform(0.04, 0.12),
        marking=jitter(rng, (0.88, 0.88, 0.85) if rng.random() < 0.85 else (0.9, 0.75, 0.2), 0.05),
        sidewalk=pick(
            rng, ((0.62, 0.62, 0.62), (0.68, 0.62, 0.52), (0.6, 0.46, 0.42), (0.5, 0.5, 0.52)), 0.06
        ),
        tile_size=rng.uniform(0.3, 0.9),
        kerb=grey(rng, 0.6, 0.8),
        terrain=jitter(rng, (0.42, 0.52, 0.22) if rng.random() < 0.75 else (0.55, 0.48, 0.3), 0.07),
        vegetation=jitter(rng, (0.2, 0.33, 0.1), 0.06),
        window=jitter(rng, (0.15, 0.2, 0.26), 0.06),
        noise_sigma=rng.uniform(0.004, 0.025),
        blur_radius=rng.uniform(0.3, 1.1),
        vignette=rng.uniform(0.0, 0.3),
        dashed_centre=bool(rng.random() < 0.6),
        edge_lines=bool(rng.random() < 0.5),
        crosswalk_z=rng.uniform(8.0, 30.0) if rng.random() < 0.3 else 0.0,
    )
