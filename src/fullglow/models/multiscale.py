"""Shared pieces of the multi-scale architecture: level geometry and input checks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F


@dataclass(frozen=True)
class LevelShape:
    """Shape of one level after its squeeze: `channels x height x width`; `split`: not the last."""

    channels: int
    height: int
    width: int
    split: bool

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape of the latent this level emits (half the channels when it splits)."""
        channels = self.channels - self.channels // 2 if self.split else self.channels
        return channels, self.height, self.width

    @property
    def kept_channels(self) -> int:
        return self.channels // 2 if self.split else self.channels


def level_shapes(image_size: tuple[int, int], channels: int, n_blocks: int) -> list[LevelShape]:
    """Per level: squeeze `C -> 4C`, `H, W -> H/2, W/2`; all but the last split off half."""
    shapes = []
    height, width = image_size
    for level in range(n_blocks):
        channels, height, width = channels * 4, height // 2, width // 2
        split = level < n_blocks - 1
        shapes.append(LevelShape(channels, height, width, split))
        if split:
            channels = channels // 2
    return shapes


def check_image(
    name: str, x: Tensor, channels: int, image_size: tuple[int, int], batch: int | None = None
) -> None:
    """Raise `ValueError` naming the expected and actual shape, or non-finite values."""
    expected = (channels, *image_size)
    if x.dim() != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{name} must have shape (B, {expected[0]}, {expected[1]}, {expected[2]}), "
            f"got {tuple(x.shape)}"
        )
    if batch is not None and x.shape[0] != batch:
        raise ValueError(f"{name} has batch size {x.shape[0]}, expected {batch} (as x)")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values")


def resize_side(side: Tensor | None, size: tuple[int, int]) -> Tensor | None:
    """Side information at a level's resolution (area average, so thin boundaries survive)."""
    if side is None:
        return None
    return F.adaptive_avg_pool2d(side, size)


def num_dims(channels: int, image_size: tuple[int, int]) -> int:
    return channels * math.prod(image_size)
