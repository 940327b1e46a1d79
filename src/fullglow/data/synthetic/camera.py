"""A pinhole camera on a car, looking down a straight street."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at `(0, eye, 0)` looking along +Z; world X right, Y up, Z forward (metres).

    A point `(X, Y, Z)` projects to column `u = cx + fx X / Z` and row `v = horizon + fy (eye - Y) / Z`
    (continuous pixel coordinates, pixel `(r, c)` covers `[c, c+1) x [r, r+1)`). `fy / fx` follows the
    image's aspect so that any `H x W` shows the scene a Cityscapes frame (1:2) would, squeezed as
    the paper's 256x256 resize squeezes it.
    """

    height: int
    width: int
    fx: float
    fy: float
    cx: float
    horizon: float
    eye: float

    def project(
        self, x: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """World points -> pixel coordinates `(u, v)`, elementwise; requires `z > 0`."""
        z = np.asarray(z, dtype=np.float64)
        return self.cx + self.fx * np.asarray(x) / z, self.horizon + self.fy * (
            self.eye - np.asarray(y)
        ) / z

    def point(self, x: float, y: float, z: float) -> tuple[float, float]:
        """One world point -> pixel `(u, v)` as Python floats (cheaper than `project` for a few)."""
        return self.cx + self.fx * x / z, self.horizon + self.fy * (self.eye - y) / z


def sample_camera(rng: np.random.Generator, size: tuple[int, int]) -> Camera:
    """A camera with a random focal length, horizon row and mounting height."""
    height, width = size
    focal = rng.uniform(0.75, 1.05)
    return Camera(
        height=height,
        width=width,
        fx=focal * width,
        fy=focal * 2.0 * height,
        cx=width * rng.uniform(0.44, 0.56),
        horizon=height * rng.uniform(0.36, 0.47),
        eye=rng.uniform(1.25, 1.7),
    )
