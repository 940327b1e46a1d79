"""Generated images on disk: 8-bit conversion, Cityscapes file names and all-or-nothing outputs.

Every command that writes results fills a hidden temporary sibling of its output path and renames
it into place only when everything succeeded (`fullglow.files.staged_directory`, `atomic_png`), so an error or an
interruption never leaves a half-written dataset, table or image behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fullglow.data.cityscapes import PHOTO_SUFFIX
from fullglow.data.image_io import read_rgb, write_png
from fullglow.files import atomic_write


def diverged_samples(images: Tensor) -> Tensor:
    """`(B,)` bool: which images `(B, ...)` hold a NaN or infinite value (a diverged inverse)."""
    return ~torch.isfinite(images).flatten(1).all(dim=1)


def displayable(images: Tensor) -> Tensor:
    """Images `(B, 3, H, W)` as they are saved: non-finite values zeroed, clamped to [0, 1] and
    rounded to the 8-bit grid `k / 255`.

    Flow samples may leave [0, 1] slightly or, where the inverse diverged, overflow; callers
    count those with `diverged_samples` and report them. Scoring the quantized image in memory
    gives the same result as scoring the PNG written from it.
    """
    images = torch.where(torch.isfinite(images), images, torch.zeros_like(images))
    return torch.round(images.clamp(0.0, 1.0) * 255.0) / 255.0


def to_uint8(images: Tensor) -> np.ndarray:
    """Images `(B, 3, H, W)` -> `(B, H, W, 3)` uint8 on the CPU, via `displayable`."""
    return (displayable(images) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def photo_tensor(photo: np.ndarray) -> Tensor:
    """`(H, W, 3)` uint8 -> `(3, H, W)` float32 in [0, 1]."""
    return torch.from_numpy(np.array(photo, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0


def read_photo(path: Path) -> Tensor:
    """An image file as `(3, H, W)` float32 in [0, 1]."""
    return photo_tensor(read_rgb(path))


def cityscapes_photo_path(root: Path, split: str, city: str, stem: str) -> Path:
    """`root/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png`, the official photo location."""
    return root / "leftImg8bit" / split / city / f"{stem}{PHOTO_SUFFIX}"


def atomic_png(path: Path, image: np.ndarray) -> None:
    """Write `image` (see `write_png`) to a temporary file beside `path`, then rename it."""
    atomic_write(path, lambda temporary: write_png(temporary, image))
