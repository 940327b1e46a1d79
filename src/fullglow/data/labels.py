"""The official Cityscapes label table and vectorised look-ups between its encodings.

Cityscapes stores three encodings of the same segmentation:

- label ids (`*_gtFine_labelIds.png`, one byte per pixel, ids 0..33),
- train ids (the 19 evaluated classes 0..18, `IGNORE_INDEX = 255` for everything else),
- colours (`*_gtFine_color.png`, the official palette; the model's source image `x_a`).

`LABELS` is the table of cityscapesScripts' `labels.py` (Cordts et al., 2016) without its
`license plate` row, whose id -1 never occurs in a label image. Every conversion here is a table
look-up over whole arrays (NumPy arrays or torch tensors, on any device) and refuses values that are
not in the table instead of mapping them to something silently.
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

import numpy as np
import torch
from torch import Tensor

from fullglow.errors import UserInputError

NUM_CLASSES = 19
IGNORE_INDEX = 255

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, Tensor)


class Label(NamedTuple):
    """One row of the Cityscapes label table."""

    name: str
    id: int
    train_id: int
    category: str
    colour: tuple[int, int, int]


LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, 255, "void", (0, 0, 0)),
    Label("ego vehicle", 1, 255, "void", (0, 0, 0)),
    Label("rectification border", 2, 255, "void", (0, 0, 0)),
    Label("out of roi", 3, 255, "void", (0, 0, 0)),
    Label("static", 4, 255, "void", (0, 0, 0)),
    Label("dynamic", 5, 255, "void", (111, 74, 0)),
    Label("ground", 6, 255, "void", (81, 0, 81)),
    Label("road", 7, 0, "flat", (128, 64, 128)),
    Label("sidewalk", 8, 1, "flat", (244, 35, 232)),
    Label("parking", 9, 255, "flat", (250, 170, 160)),
    Label("rail track", 10, 255, "flat", (230, 150, 140)),
    Label("building", 11, 2, "construction", (70, 70, 70)),
    Label("wall", 12, 3, "construction", (102, 102, 156)),
    Label("fence", 13, 4, "construction", (190, 153, 153)),
    Label("guard rail", 14, 255, "construction", (180, 165, 180)),
    Label("bridge", 15, 255, "construction", (150, 100, 100)),
    Label("tunnel", 16, 255, "construction", (150, 120, 90)),
    Label("pole", 17, 5, "object", (153, 153, 153)),
    Label("polegroup", 18, 255, "object", (153, 153, 153)),
    Label("traffic light", 19, 6, "object", (250, 170, 30)),
    Label("traffic sign", 20, 7, "object", (220, 220, 0)),
    Label("vegetation", 21, 8, "nature", (107, 142, 35)),
    Label("terrain", 22, 9, "nature", (152, 251, 152)),
    Label("sky", 23, 10, "sky", (70, 130, 180)),
    Label("person", 24, 11, "human", (220, 20, 60)),
    Label("rider", 25, 12, "human", (255, 0, 0)),
    Label("car", 26, 13, "vehicle", (0, 0, 142)),
    Label("truck", 27, 14, "vehicle", (0, 0, 70)),
    Label("bus", 28, 15, "vehicle", (0, 60, 100)),
    Label("caravan", 29, 255, "vehicle", (0, 0, 90)),
    Label("trailer", 30, 255, "vehicle", (0, 0, 110)),
    Label("train", 31, 16, "vehicle", (0, 80, 100)),
    Label("motorcycle", 32, 17, "vehicle", (0, 0, 230)),
    Label("bicycle", 33, 18, "vehicle", (119, 11, 32)),
)

LABEL_BY_NAME: dict[str, Label] = {label.name: label for label in LABELS}
"""Rows by name, e.g. `LABEL_BY_NAME["car"].id == 26`."""

THING_IDS = frozenset(range(24, 34))
"""Label ids with instances (`hasInstances` in the official table): their `instanceIds` pixels
hold `id * 1000 + k` for the k-th object; the other classes store their plain label id."""

TRAIN_LABELS: tuple[Label, ...] = tuple(
    sorted((label for label in LABELS if label.train_id != IGNORE_INDEX), key=lambda r: r.train_id)
)
"""The 19 evaluated classes, in train-id order (`TRAIN_LABELS[t].train_id == t`)."""

_LUT_SIZE = 256  # every encoding fits in one byte


def _table(values: dict[int, object], dtype: type, fill: object, width: int = 0) -> np.ndarray:
    shape = (_LUT_SIZE, width) if width else (_LUT_SIZE,)
    table = np.full(shape, fill, dtype=dtype)
    for key, value in values.items():
        table[key] = value
    table.setflags(write=False)
    return table


_KNOWN_ID = _table({label.id: True for label in LABELS}, bool, False)
_KNOWN_TRAIN_ID = _table({t: True for t in [*range(NUM_CLASSES), IGNORE_INDEX]}, bool, False)
_ID_TO_TRAIN_ID = _table({label.id: label.train_id for label in LABELS}, np.uint8, IGNORE_INDEX)
_ID_TO_COLOUR = _table({label.id: label.colour for label in LABELS}, np.uint8, 0, width=3)
_TRAIN_ID_TO_COLOUR = _table({r.train_id: r.colour for r in TRAIN_LABELS}, np.uint8, 0, width=3)


def _pack(colours: np.ndarray) -> np.ndarray:
    """`(..., 3)` uint8 RGB -> `(...)` int32 `r << 16 | g << 8 | b`."""
    rgb = colours.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _colour_index() -> tuple[np.ndarray, np.ndarray]:
    # Several ids share a colour (ids 0-4 are black; pole and polegroup are both grey): the
    # inverse picks the evaluated class first, then the lowest id.
    by_colour: dict[tuple[int, int, int], Label] = {}
    for label in sorted(LABELS, key=lambda r: (r.train_id == IGNORE_INDEX, r.id)):
        by_colour.setdefault(label.colour, label)
    keys = _pack(np.array(list(by_colour), dtype=np.uint8))
    order = np.argsort(keys)
    ids = np.array([label.id for label in by_colour.values()], dtype=np.uint8)
    return keys[order], ids[order]


_COLOUR_KEYS, _COLOUR_IDS = _colour_index()


def _bad_values(values: ArrayOrTensor, known: np.ndarray) -> list[int]:
    """The distinct values of `values` that `known` (a boolean table) does not mark as valid."""
    if isinstance(values, Tensor):
        in_range = (values >= 0) & (values < known.size)
        table = torch.tensor(known, device=values.device)
        valid = in_range & table[values.clamp(0, known.size - 1).long()]
        return torch.unique(values[~valid]).tolist()
    values = np.asarray(values)
    in_range = (values >= 0) & (values < known.size)
    valid = in_range & known[np.clip(values, 0, known.size - 1)]
    return np.unique(values[~valid]).tolist()


def _look_up(table: np.ndarray, index: ArrayOrTensor) -> ArrayOrTensor:
    if isinstance(index, Tensor):
        return torch.tensor(table, device=index.device)[index.long()]
    return np.take(table, np.asarray(index), axis=0)  # several times faster than table[index]


def _describe(values: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_label_ids(label_ids: np.ndarray | Tensor, where: str = "label map") -> None:
    """Raise `UserInputError` naming `where` if `label_ids` holds an id not in `LABELS` (0..33)."""
    bad = _bad_values(label_ids, _KNOWN_ID)
    if bad:
        raise UserInputError(
            f"{where}: label ids outside the Cityscapes table (valid: 0..33): {_describe(bad)}"
        )


def check_train_ids(train_ids: np.ndarray | Tensor, where: str = "train-id map") -> None:
    """Raise `UserInputError` naming `where` unless every value is in 0..18 or 255."""
    bad = _bad_values(train_ids, _KNOWN_TRAIN_ID)
    if bad:
        raise UserInputError(
            f"{where}: train ids must be 0..{NUM_CLASSES - 1} or {IGNORE_INDEX}, "
            f"found {_describe(bad)}"
        )


def label_ids_to_train_ids(label_ids: ArrayOrTensor, where: str = "label map") -> ArrayOrTensor:
    """Label ids `(...)` -> train ids `(...)` uint8 (0..18, 255 for classes not evaluated)."""
    check_label_ids(label_ids, where)
    return _look_up(_ID_TO_TRAIN_ID, label_ids)


def label_ids_to_colours(label_ids: ArrayOrTensor, where: str = "label map") -> ArrayOrTensor:
    """Label ids `(...)` -> official colours `(..., 3)` uint8, as in `*_gtFine_color.png`."""
    check_label_ids(label_ids, where)
    return _look_up(_ID_TO_COLOUR, label_ids)


def train_ids_to_colours(train_ids: ArrayOrTensor, where: str = "train-id map") -> ArrayOrTensor:
    """Train ids `(...)` -> colours `(..., 3)` uint8; `IGNORE_INDEX` becomes black."""
    check_train_ids(train_ids, where)
    return _look_up(_TRAIN_ID_TO_COLOUR, train_ids)


def colours_to_label_ids(colours: np.ndarray, where: str = "colour label image") -> np.ndarray:
    """Official colours `(..., 3)` uint8 -> label ids `(...)` uint8.

    A colour shared by several ids maps to the evaluated one (grey -> pole, not polegroup), else
    to the lowest id (black -> unlabeled), so train ids survive the round trip ids -> colours ->
    ids except on polegroup pixels, which come back as pole. A colour outside the palette (e.g.
    from JPEG compression or an antialiased resize) raises `UserInputError` naming `where`, the
    colours and their pixel count.
    """
    colours = np.asarray(colours)
    if colours.ndim < 1 or colours.shape[-1] != 3:
        raise UserInputError(f"{where}: expected RGB colours (..., 3), got shape {colours.shape}")
    keys = _pack(colours)
    position = np.minimum(np.searchsorted(_COLOUR_KEYS, keys), _COLOUR_KEYS.size - 1)
    found = _COLOUR_KEYS[position] == keys
    if not found.all():
        unknown = np.unique(keys[~found])
        rgb = [f"({k >> 16}, {(k >> 8) & 255}, {k & 255})" for k in unknown[:5].tolist()]
        more = f" and {unknown.size - 5} more" if unknown.size > 5 else ""
        raise UserInputError(
            f"{where}: {int((~found).sum())} pixels have colours outside the Cityscapes palette: "
            f"{', '.join(rgb)}{more} (colour maps must use the exact official colours, saved "
            "losslessly, e.g. as PNG, and resized with nearest neighbour)"
        )
    return _COLOUR_IDS[position]


def colourize_train_ids(train_ids: Tensor) -> Tensor:
    """Render train ids `(..., H, W)` as colour images `(..., 3, H, W)` float32 in [0, 1].

    For showing segmentations and synthesised labels beside photos; 255 (ignore) is black.
    """
    colours = train_ids_to_colours(train_ids)  # (..., H, W, 3) uint8
    return colours.movedim(-1, -3).float() / 255.0
