"""The label a user paints or uploads, as the model will read it (no Gradio here).

The page's brush paints the official colours of the 19 evaluated classes and "unlabeled" (black)
on a canvas `paint_scale` times the model's size. Brush edges are anti-aliased, so the painted
image holds blends of two colours; `snap_to_classes` gives every pixel the class of the nearest
palette colour (Euclidean distance in RGB) and the canvas is then resized to the model's size with
nearest neighbour. An uploaded colour label must already be in the palette: one where more than
`FAR_PIXEL_FRACTION` (5 %) of the pixels are farther than `FAR_COLOUR_DISTANCE` from every class colour
is refused, naming those colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fullglow.data.labels import LABEL_BY_NAME, TRAIN_LABELS, Label, label_ids_to_colours
from fullglow.data.resizing import resize_nearest
from fullglow.errors import UserInputError

PALETTE: tuple[Label, ...] = (*TRAIN_LABELS, LABEL_BY_NAME["unlabeled"])
"""The brush's classes: the 19 evaluated ones in train-id order, then "unlabeled" (black)."""

FAR_COLOUR_DISTANCE = 40.0
"""An uploaded colour farther than this (RGB Euclidean distance, 0..441) from every class colour
is not a class colour (JPEG noise stays well below; two neighbouring classes are >= 15 apart)."""

FAR_PIXEL_FRACTION = 0.05
"""Uploaded colour labels may hold up to 5 % of such pixels, no more: the edges of a JPEG label
(a 64x128 JPEG of three bands has 2.3 %); a photo or a foreign palette has most of its pixels far."""

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
"""Uploads larger than 8 MiB are refused."""

MAX_UPLOAD_PIXELS = 2048 * 4096
"""Uploads of more pixels than a full Cityscapes frame (2048 x 4096 allowed) are refused."""

PAINT_SIDE = 512
"""The canvas's longer side is about this many screen pixels (an integer multiple of the model's)."""

_PALETTE_RGB = np.array([label.colour for label in PALETTE], dtype=np.float32)  # (20, 3)
_PALETTE_IDS = np.array([label.id for label in PALETTE], dtype=np.uint8)  # (20,)


def hex_colour(label: Label) -> str:
    """`#rrggbb` of a class colour, as the brush takes it."""
    return "#{:02x}{:02x}{:02x}".format(*label.colour)


def paint_scale(image_size: tuple[int, int]) -> int:
    """The integer factor from the model's `(H, W)` to the canvas: its longer side near `PAINT_SIDE`."""
    return max(1, PAINT_SIDE // max(image_size))


def _nearest_class(colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(N, 3)` colours -> palette index `(N,)` and distance to that class colour `(N,)`."""
    distance = np.linalg.norm(colours[:, None, :].astype(np.float32) - _PALETTE_RGB, axis=-1)
    index = distance.argmin(axis=1)
    return index, distance[np.arange(index.size), index]


def snap_to_classes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label ids `(H, W)` uint8 of an RGB image `(H, W, 3)`, each pixel given the nearest class
    colour's id, and each pixel's distance to that colour `(H, W)` float32.

    The nearest-colour search runs once per distinct colour, so a painted canvas (a few dozen
    colours) snaps in milliseconds.
    """
    if image.ndim != 3 or image.shape[-1] != 3:
        raise UserInputError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    rgb = image.reshape(-1, 3).astype(np.int32)
    keys, inverse = np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2], return_inverse=True)
    colours = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1)
    index, distance = _nearest_class(colours)
    inverse = inverse.reshape(-1)
    ids = _PALETTE_IDS[index][inverse].reshape(image.shape[:2])
    return ids, distance[inverse].reshape(image.shape[:2])


def check_class_colours(image: np.ndarray, where: str) -> np.ndarray:
    """Label ids `(H, W)` of an uploaded colour label `(H, W, 3)`, snapped to the palette.

    Raises:
        UserInputError: more than `FAR_PIXEL_FRACTION` of its pixels are farther than
            `FAR_COLOUR_DISTANCE` from every class colour; the message names the commonest.
    """
    ids, distance = snap_to_classes(image)
    far = distance > FAR_COLOUR_DISTANCE
    if far.mean() > FAR_PIXEL_FRACTION:
        colours, counts = np.unique(image[far], axis=0, return_counts=True)
        commonest = colours[np.argsort(-counts)[:5]]
        named = ", ".join(f"({r}, {g}, {b})" for r, g, b in commonest.tolist())
        raise UserInputError(
            f"{where}: {int(far.sum())} of {far.size} pixels have colours far from every class "
            f"colour, e.g. {named}; a colour label must use the official Cityscapes colours"
        )
    return ids


def _open_upload(path: Path, where: str) -> Image.Image:
    """Open an uploaded image file, refusing what is too large or not an image."""
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UserInputError(
            f"{where}: the file is {size / 2**20:.1f} MiB, larger than the "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB allowed"
        )
    try:
        image = Image.open(path)
        pixels = image.width * image.height
        if pixels > MAX_UPLOAD_PIXELS:
            raise UserInputError(
                f"{where}: {image.width}x{image.height} pixels is larger than the "
                f"{MAX_UPLOAD_PIXELS} pixels allowed"
            )
        image.load()
    except UserInputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UserInputError(f"{where}: not an image file (PNG, JPEG, ...)") from None
    return image


def read_uploaded_label(path: str | Path, where: str = "uploaded label") -> np.ndarray:
    """Label ids `(H, W)` uint8 of an uploaded `*_labelIds.png` (one channel) or colour label.

    Raises:
        UserInputError: not an image, too large, label ids outside the table, or colours far
            from every class colour.
    """
    image = _open_upload(Path(path), where)
    if image.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L") and not _is_palette_colour(image):
        ids = np.asarray(image)
        label_ids_to_colours(ids, where)  # refuses ids outside the table
        return ids.astype(np.uint8)
    return check_class_colours(np.asarray(image.convert("RGB")), where)


def _is_palette_colour(image: Image.Image) -> bool:
    """A "P" image whose palette is not grey is a colour label, not label ids."""
    if image.mode != "P":
        return False
    palette = np.array(image.getpalette() or [], dtype=np.int32).reshape(-1, 3)
    return bool((palette != palette[:, :1]).any())


def read_uploaded_photo(path: str | Path, where: str = "uploaded photo") -> np.ndarray:
    """An uploaded photo as `(H, W, 3)` uint8 RGB (refusing non-images and oversized files)."""
    return np.asarray(_open_upload(Path(path), where).convert("RGB"))


@dataclass(frozen=True)
class FittedLabel:
    """A label at the model's size, and a note when it had to be resized ("" otherwise)."""

    label_ids: np.ndarray
    note: str


def fit_to_model(label_ids: np.ndarray, image_size: tuple[int, int], what: str) -> FittedLabel:
    """Resize label ids `(H0, W0)` to the model's `(H, W)` with nearest neighbour, with a note."""
    height, width = image_size
    source = label_ids.shape[:2]
    if source == (height, width):
        return FittedLabel(label_ids, "")
    aspect = "" if source[0] * width == source[1] * height else ", another aspect: stretched"
    note = (
        f"{what} is {source[0]}x{source[1]}; resized to the model's {height}x{width} "
        f"(nearest neighbour{aspect})"
    )
    return FittedLabel(resize_nearest(label_ids, image_size), note)


def canvas_image(label_ids: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Label ids at the model's size -> the colour canvas `(H k, W k, 3)`, `k = paint_scale`."""
    scale = paint_scale(image_size)
    colours = label_ids_to_colours(label_ids)
    return np.repeat(np.repeat(colours, scale, axis=0), scale, axis=1)


def canvas_to_label(painted: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """A painted canvas `(H', W', 3 or 4)` -> label ids `(H, W)` at the model's size.

    Colours are snapped first (at the canvas's resolution), then the ids are resized with nearest
    neighbour, so an anti-aliased edge never becomes a third class.
    """
    rgb = np.asarray(painted)[..., :3]
    ids, _ = snap_to_classes(np.ascontiguousarray(rgb, dtype=np.uint8))
    return resize_nearest(ids, image_size)


def empty_scene(image_size: tuple[int, int]) -> np.ndarray:
    """Label ids `(H, W)` of a bare street: sky above 40 %, road below 60 %, sidewalk between."""
    height, _ = image_size
    ids = np.full(image_size, LABEL_BY_NAME["road"].id, dtype=np.uint8)
    ids[: round(0.4 * height)] = LABEL_BY_NAME["sky"].id
    ids[round(0.4 * height) : round(0.6 * height)] = LABEL_BY_NAME["sidewalk"].id
    return ids
