"""Class ids from lossy colour labels: snapping to the Cityscapes palette, then a local clean-up.

pix2pix's aligned Cityscapes download stores the official colour labels as JPEGs (quality 75,
4:2:0 chroma subsampling) after squashing them to 256x256, so most label pixels are near, not on,
a palette colour, and pixels along class edges take blends that can lie nearer a third colour.
`snap_colour_label` recovers label ids in two steps:

1. **Snap**: each pixel takes the palette colour `p` minimising the weighted YCbCr distance

       D(c, p)^2 = w_Y (Y_c - Y_p)^2 + (Cb_c - Cb_p)^2 + (Cr_c - Cr_p)^2     (BT.601, 0..255)

   with `w_Y = luma_weight`. JPEG keeps luma at full resolution but chroma at half, so along
   edges luma is the more faithful witness; `w_Y = 1` is the plain YCbCr (= a rotated, rescaled
   RGB) distance.
2. **Clean-up** (`clean_snapped`): a pixel whose snap is unreliable (`D` above `threshold`) takes,
   among the classes of the *reliable* pixels in its `(2r+1) x (2r+1)` window (`r = radius`), the
   one whose colour is nearest its own. A majority vote would pick the larger class at an edge,
   where both sides are present in about equal parts; the pixel's own colour tells them apart.
   A pixel with no reliable pixel in its window keeps its snap.

A colour shared by several ids maps as `colours_to_label_ids` does: to the evaluated class (grey
153 -> pole, not polegroup), else to the lowest id (black -> unlabeled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fullglow.data.labels import LABELS, colours_to_label_ids
from fullglow.errors import UserInputError

PALETTE = np.array(sorted({label.colour for label in LABELS}), dtype=np.uint8)
"""`(P, 3)` uint8: the distinct colours of the official palette (29: five ids share black, two
share grey)."""

PALETTE_IDS = colours_to_label_ids(PALETTE)
"""`(P,)` uint8: the label id each `PALETTE` colour stands for."""

FAR_FROM_PALETTE = 30.0
"""RGB distance beyond which a pixel counts as far from every palette colour in the summaries."""

# BT.601 full-range RGB -> YCbCr (the transform JPEG uses), offsets dropped: they cancel in D.
_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class SnapSettings:
    """How `snap_colour_label` snaps and cleans (see the module docstring for the maths).

    Attributes:
        luma_weight: `w_Y`, the weight of the luma difference in the snapping distance (> 0).
        threshold: `D` above which a snap is unreliable and the clean-up may change it (>= 0).
        radius: `r`, the clean-up window is `(2r+1) x (2r+1)` pixels; 0 turns the clean-up off.
    """

    luma_weight: float = 8.0
    threshold: float = 20.0
    radius: int = 2

    def __post_init__(self) -> None:
        problems = []
        if not self.luma_weight > 0:
            problems.append(f"luma_weight must be > 0, got {self.luma_weight}")
        if not self.threshold >= 0:
            problems.append(f"threshold must be >= 0, got {self.threshold}")
        if self.radius < 0:
            problems.append(f"radius must be >= 0, got {self.radius}")
        if problems:
            raise UserInputError("snap settings: " + "; ".join(problems))


class SnappedLabel(NamedTuple):
    """The outcome of `snap_colour_label` for one `(H, W)` colour label.

    Attributes:
        label_ids: `(H, W)` uint8, after snapping and clean-up.
        rgb_distance: `(H, W)` float32, the RGB distance of each pixel to its nearest palette
            colour (0 where it holds an exact palette colour).
        changed: `(H, W)` bool, the pixels whose class the clean-up changed.
    """

    label_ids: np.ndarray
    rgb_distance: np.ndarray
    changed: np.ndarray


def _features(colours: np.ndarray, luma_weight: float) -> np.ndarray:
    """`(..., 3)` RGB -> `(..., 3)` float32 `(sqrt(w_Y) Y, Cb, Cr)`, so D is Euclidean here."""
    scale = np.array([np.sqrt(luma_weight), 1.0, 1.0], dtype=np.float32)
    return (colours.astype(np.float32) @ _YCBCR.T) * scale


def _distinct_colours(colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(H, W, 3)` uint8 -> its `(U, 3)` distinct colours and each pixel's `(H*W,)` index into
    them (a JPEG label holds a few thousand colours, far fewer than pixels)."""
    rgb = colours.reshape(-1, 3).astype(np.int32)
    keys, inverse = np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2], return_inverse=True)
    distinct = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1).astype(np.uint8)
    return distinct, inverse.reshape(-1)


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """`(N, 3)`, `(P, 3)` -> `(N, P)` squared Euclidean distances, via one matrix product."""
    squared = (points * points).sum(1)[:, None] - 2.0 * points @ centres.T
    squared += (centres * centres).sum(1)[None, :]
    return np.maximum(squared, 0.0, out=squared)


def nearest_palette(colours: np.ndarray, luma_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The nearest `PALETTE` entry of every pixel under `D` (see the module docstring).

    Args:
        colours: `(H, W, 3)` uint8 RGB.
        luma_weight: `w_Y`.

    Returns:
        `(H, W)` intp indices into `PALETTE`, and `(H, W)` float32 distances `D` to it.
    """
    distinct, inverse = _distinct_colours(colours)
    squared = _squared_distances(_features(distinct, luma_weight), _features(PALETTE, luma_weight))
    index = squared.argmin(1)
    distance = np.sqrt(np.take_along_axis(squared, index[:, None], 1)[:, 0])
    return index[inverse].reshape(colours.shape[:2]), distance[inverse].reshape(colours.shape[:2])


def palette_distance(colours: np.ndarray) -> np.ndarray:
    """`(H, W, 3)` uint8 RGB -> `(H, W)` float32 RGB distance to the nearest `PALETTE` colour."""
    distinct, inverse = _distinct_colours(colours)
    squared = _squared_distances(distinct.astype(np.float32), PALETTE.astype(np.float32))
    return np.sqrt(squared.min(1))[inverse].reshape(colours.shape[:2])


def _window_classes(
    classes: np.ndarray, radius: int, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """The values of `classes` `(H, W)` in the `(2r+1)^2` window around each pixel
    `(rows[n], cols[n])`: `(N, (2r+1)^2)`, -1 outside the image."""
    padded = np.pad(classes, radius, constant_values=-1)
    offsets = np.arange(2 * radius + 1)
    window = padded[
        rows[:, None, None] + offsets[None, :, None], cols[:, None, None] + offsets[None, None, :]
    ]
    return window.reshape(rows.size, -1)


def clean_snapped(
    colours: np.ndarray, index: np.ndarray, distance: np.ndarray, settings: SnapSettings
) -> np.ndarray:
    """Re-decide the unreliable snaps from their neighbourhood (step 2 of the module docstring).

    Args:
        colours: `(H, W, 3)` uint8 RGB, the observed colours.
        index: `(H, W)` indices into `PALETTE` from `nearest_palette`.
        distance: `(H, W)` distances `D` from `nearest_palette`.
        settings: `threshold` marks the unreliable pixels, `radius` sets the window.

    Returns:
        `(H, W)` indices into `PALETTE`; equal to `index` wherever `distance <= threshold`.
    """
    unreliable = distance > settings.threshold
    if settings.radius == 0 or not unreliable.any():
        return index
    rows, cols = np.nonzero(unreliable)
    trusted = np.where(unreliable, -1, index)
    candidates = _window_classes(trusted, settings.radius, rows, cols)  # (N, (2r+1)^2)
    points = _features(colours[rows, cols], settings.luma_weight)
    squared = _squared_distances(points, _features(PALETTE, settings.luma_weight))  # (N, P)
    # The distance to each window pixel's class; unreliable or outside pixels do not compete.
    squared = np.take_along_axis(squared, np.maximum(candidates, 0), 1)
    squared[candidates < 0] = np.inf
    best = squared.argmin(1)
    chosen = np.take_along_axis(candidates, best[:, None], 1)[:, 0]
    cleaned = index.copy()
    cleaned[rows, cols] = np.where(chosen >= 0, chosen, index[rows, cols])
    return cleaned


def snap_colour_label(colours: np.ndarray, settings: SnapSettings | None = None) -> SnappedLabel:
    """Label ids of a lossy Cityscapes colour label (JPEG, resized): snap, then clean up.

    Args:
        colours: `(H, W, 3)` uint8 RGB, a colour label in the official palette, degraded.
        settings: `SnapSettings()` (the defaults measured in the README) when None.

    Returns:
        A `SnappedLabel`: the label ids, each pixel's RGB distance to the palette and the pixels
        the clean-up changed.

    Raises:
        UserInputError: `colours` is not `(H, W, 3)`.
    """
    settings = settings or SnapSettings()
    colours = np.asarray(colours)
    if colours.ndim != 3 or colours.shape[2] != 3:
        raise UserInputError(f"expected an (H, W, 3) colour label, got shape {colours.shape}")
    index, distance = nearest_palette(colours, settings.luma_weight)
    cleaned = clean_snapped(colours, index, distance, settings)
    return SnappedLabel(
        label_ids=PALETTE_IDS[cleaned],
        rgb_distance=palette_distance(colours),
        changed=cleaned != index,
    )


def near_class_edges(label_ids: np.ndarray, radius: int) -> np.ndarray:
    """`(H, W)` ids -> `(H, W)` bool: pixels with a different id within Chebyshev distance
    `radius` (the band along class edges where lossy labels are ambiguous)."""
    height, width = label_ids.shape
    padded = np.pad(label_ids, radius, mode="edge")
    near = np.zeros(label_ids.shape, dtype=bool)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            near |= padded[dy : dy + height, dx : dx + width] != label_ids
    return near
