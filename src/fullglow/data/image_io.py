"""Reading and writing the image files of a dataset, with errors that name the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from fullglow.errors import UserInputError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """`Image.open(path)`, with a missing or unreadable file (also while the block decodes it)
    turned into a `UserInputError` naming `path`."""
    try:
        with Image.open(path) as image:
            yield image
    except FileNotFoundError:
        raise UserInputError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise UserInputError(f"{path}: cannot read the image ({err})") from None


def _open(path: Path) -> Image.Image:
    """Open and fully decode `path`, so a truncated file fails here and not later."""
    with _opened(path) as image:
        image.load()
        return image


def read_size(path: Path) -> tuple[int, int]:
    """The `(H, W)` of an image file, from its header alone (nothing is decoded)."""
    with _opened(path) as image:
        return image.height, image.width


def read_rgb(path: Path) -> np.ndarray:
    """An image file as `(H, W, 3)` uint8 RGB (grey and RGBA images are converted)."""
    return np.asarray(_open(path).convert("RGB"))


def _read_single_channel(path: Path, what: str) -> np.ndarray:
    image = _open(path)
    if image.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
        raise UserInputError(
            f"{path}: expected a single-channel {what} image, got mode {image.mode!r} "
            "(is it a colour image?)"
        )
    return np.asarray(image)


def read_label_ids(path: Path) -> np.ndarray:
    """A `*_labelIds.png` as `(H, W)` uint8 label ids (values are checked by the caller)."""
    ids = _read_single_channel(path, "label-id")
    if ids.dtype != np.uint8:
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) > 255):
            raise UserInputError(
                f"{path}: label ids outside the Cityscapes table (valid: 0..33): "
                f"values range over {int(ids.min())}..{int(ids.max())}"
            )
        ids = ids.astype(np.uint8)
    return ids


def read_instance_ids(path: Path) -> np.ndarray:
    """A `*_instanceIds.png` (16- or 32-bit grey) as `(H, W)` int32 instance ids."""
    return _read_single_channel(path, "instance-id").astype(np.int32)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write `(H, W, 3)` uint8, `(H, W)` uint8 or `(H, W)` uint16 data as a lossless PNG."""
    # Level 1 deflate: several times faster than the default, files ~20% larger.
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
