"""Image sizes: checking them against the model and resizing photos and label maps."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fullglow.errors import UserInputError


def validate_image_size(size: tuple[int, int], multiple: int, what: str) -> None:
    """Raise `UserInputError` naming `what` unless both sides of `size = (H, W)` are positive
    multiples of `multiple` (a model with `L` blocks squeezes `L` times: `multiple = 2**L`)."""
    height, width = size
    if multiple < 1:
        raise ValueError(f"multiple must be positive, got {multiple}")
    if height < 1 or width < 1 or height % multiple or width % multiple:

        def up(side: int) -> int:
            return max(multiple, -(-side // multiple) * multiple)

        raise UserInputError(
            f"{what}: image size {height}x{width} is not divisible by {multiple} on both sides "
            f"(the model halves the image once per block); use e.g. {up(height)}x{up(width)}"
        )


def resize_photo(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an `(H0, W0, 3)` uint8 photo to `size = (H, W)` with antialiased bicubic filtering."""
    if photo.shape[:2] == size:
        return photo
    image = Image.fromarray(photo)
    # reducing_gap first box-reduces large downscales (e.g. 1024x2048 -> 256x256) by an integer
    # factor, which is much faster and visually the same as one large bicubic kernel.
    resized = image.resize((size[1], size[0]), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(resized)


def resize_nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of `(H0, W0, ...)` label-like data to `(H, W, ...)`.

    Output pixel `i` reads input pixel `floor((i + 1/2) * H0 / H)`, so only values present in the
    input appear in the output (no new ids, no blended colours).
    """
    height, width = size
    if (height, width) == array.shape[:2]:
        return array
    rows = ((np.arange(height) + 0.5) * (array.shape[0] / height)).astype(np.intp)
    cols = ((np.arange(width) + 0.5) * (array.shape[1] / width)).astype(np.intp)
    return array[rows[:, None], cols[None, :]]
