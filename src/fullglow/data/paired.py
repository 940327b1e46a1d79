"""Paired image folders in pix2pix's formats: aligned `A|B` images, or folders `A/` and `B/`.

Layouts, with `BASE = ROOT/split` (or `ROOT` when `split` is None):

- two folders: `BASE/A/` and `BASE/B/` (or pix2pix's `ROOT/A/split/`, `ROOT/B/split/`) holding
  images with matching names (`A/0001.png` pairs with `B/0001.jpg`);
- aligned: every image in `BASE/` holds `A` in its left half and `B` in its right half
  (pix2pix's facades, maps, ...).

Sources that are colour labels in the Cityscapes palette (pix2pix's cityscapes, whose labels are
JPEGs) can be snapped to class ids with `cityscapes_palette=True` (see `fullglow.data.palette_snap`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from fullglow.data.image_io import list_images, read_rgb
from fullglow.data.item import Sample, instance_boundaries, make_sample
from fullglow.data.labels import IGNORE_INDEX, label_ids_to_colours, label_ids_to_train_ids
from fullglow.data.palette_snap import SnapSettings, snap_colour_label
from fullglow.data.resizing import resize_nearest, resize_photo
from fullglow.errors import UserInputError

Direction = Literal["AtoB", "BtoA"]


def check_direction(direction: str) -> None:
    """Raise `UserInputError` unless `direction` is "AtoB" or "BtoA"."""
    if direction not in ("AtoB", "BtoA"):
        raise UserInputError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")


def split_aligned(
    image: np.ndarray, path: Path, direction: Direction
) -> tuple[np.ndarray, np.ndarray]:
    """An aligned `(H, 2W, 3)` image `A|B` read from `path` -> `(source, target)`, each
    `(H, W, 3)`: `(A, B)` for "AtoB", `(B, A)` for "BtoA".

    Raises:
        UserInputError: the width is odd.
    """
    width = image.shape[1]
    if width % 2:
        raise UserInputError(
            f"{path}: width {width} is odd, so it cannot hold two images A|B side by side"
        )
    image_a, image_b = image[:, : width // 2], image[:, width // 2 :]
    return (image_a, image_b) if direction == "AtoB" else (image_b, image_a)


class PairedRecord(NamedTuple):
    """One pair: `a_path` and `b_path` are the same file in the aligned format."""

    stem: str
    a_path: Path
    b_path: Path


def _by_stem(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in files:
            raise UserInputError(
                f"{folder}: two images named {path.stem!r} ({files[path.stem].name}, {path.name}); "
                "pairs are matched by name, so names must be unique"
            )
        files[path.stem] = path
    return files


def _unmatched(names: set[str], folder: Path, other: Path) -> str:
    listed = sorted(names)
    shown = ", ".join(listed[:5]) + (f", ... ({len(listed) - 5} more)" if len(listed) > 5 else "")
    return f"{len(listed)} images in {folder} have no image of the same name in {other}: {shown}"


def _pair_folders(folder_a: Path, folder_b: Path) -> list[PairedRecord]:
    files_a, files_b = _by_stem(folder_a), _by_stem(folder_b)
    problems = []
    if files_a.keys() - files_b.keys():
        problems.append(_unmatched(files_a.keys() - files_b.keys(), folder_a, folder_b))
    if files_b.keys() - files_a.keys():
        problems.append(_unmatched(files_b.keys() - files_a.keys(), folder_b, folder_a))
    if problems:
        raise UserInputError("; ".join(problems))
    return [PairedRecord(stem, files_a[stem], files_b[stem]) for stem in sorted(files_a)]


class PairedFolderDataset(Dataset[Sample]):
    """Image pairs from folders, as `Sample`s whose source is one image and target the other.

    With `direction="AtoB"` the source `label_colour` is A and the target `photo` is B; "BtoA"
    swaps them. There are no class labels: `train_ids` is all `IGNORE_INDEX` and `boundary` all 0,
    unless `cityscapes_palette` says the sources are Cityscapes colour labels.

    Args:
        root: the dataset folder (see the module docstring for the layouts).
        split: a subfolder such as "train" or "val", or None.
        image_size: `(H, W)` to resize both images to (antialiased bicubic), or None to keep the
            files' size (A and B must then have the same size).
        direction: "AtoB" or "BtoA".
        flip: mirror each pair horizontally with probability 1/2, both images alike.
        cityscapes_palette: the sources are colour labels in the Cityscapes palette, possibly
            lossy (JPEG): each is snapped to label ids at the file's size (`snap_colour_label`
            with `snap_settings`), which give `train_ids`, the class edges as `boundary`, and
            the source redrawn in the exact palette; labels are resized with nearest neighbour.
        snap_settings: the snapping and clean-up (`SnapSettings()` when None).
    """

    def __init__(
        self,
        root: Path | str,
        split: str | None = None,
        image_size: tuple[int, int] | None = None,
        direction: Direction = "AtoB",
        flip: bool = False,
        cityscapes_palette: bool = False,
        snap_settings: SnapSettings | None = None,
    ) -> None:
        check_direction(direction)
        self.root = Path(root)
        self.image_size = image_size
        self.direction = direction
        self.flip = flip
        self.cityscapes_palette = cityscapes_palette
        self.snap_settings = snap_settings or SnapSettings()
        base = self.root if split is None else self.root / split
        if (base / "A").is_dir() and (base / "B").is_dir():
            self.aligned = False
            self.records = _pair_folders(base / "A", base / "B")
        elif split is not None and (self.root / "A" / split).is_dir():
            self.aligned = False
            self.records = _pair_folders(self.root / "A" / split, self.root / "B" / split)
        elif base.is_dir():
            self.aligned = True
            self.records = [PairedRecord(p.stem, p, p) for p in list_images(base)]
        else:
            raise UserInputError(f"paired dataset: no such folder {base}")
        if not self.records:
            raise UserInputError(
                f"paired dataset: no images in {base} (expected aligned A|B images there, or "
                "subfolders A/ and B/ with images of matching names)"
            )

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, record: PairedRecord) -> tuple[np.ndarray, np.ndarray]:
        """`(source, target)` images of `record`, at the files' size."""
        if self.aligned:
            return split_aligned(read_rgb(record.a_path), record.a_path, self.direction)
        image_a, image_b = read_rgb(record.a_path), read_rgb(record.b_path)
        if self.image_size is None and image_a.shape != image_b.shape:
            raise UserInputError(
                f"{record.a_path} is {image_a.shape[1]}x{image_a.shape[0]} but {record.b_path} is "
                f"{image_b.shape[1]}x{image_b.shape[0]} (WxH); give an image size to resize both"
            )
        return (image_a, image_b) if self.direction == "AtoB" else (image_b, image_a)

    def __getitem__(self, index: int) -> Sample:
        source, target = self._load(self.records[index])
        size = self.image_size or target.shape[:2]
        target = resize_photo(target, size)
        if self.cityscapes_palette:
            label_ids = resize_nearest(
                snap_colour_label(source, self.snap_settings).label_ids, size
            )
            source = label_ids_to_colours(label_ids)
            train_ids = label_ids_to_train_ids(label_ids)
            boundary = instance_boundaries(label_ids)
        else:
            source = resize_photo(source, size)
            train_ids = np.full(size, IGNORE_INDEX, dtype=np.uint8)
            boundary = np.zeros(size, dtype=bool)
        flip = self.flip and bool(torch.rand(()) < 0.5)
        return make_sample(target, source, train_ids, boundary, flip)
