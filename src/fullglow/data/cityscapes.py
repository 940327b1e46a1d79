"""Cityscapes in its official on-disk layout (also what `fullglow synth-data` writes).

```
ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png      (required)
ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_color.png         (optional)
ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_instanceIds.png   (optional)
```
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from fullglow.data.image_io import read_instance_ids, read_label_ids, read_rgb
from fullglow.data.item import Sample, instance_boundaries, make_sample
from fullglow.data.labels import label_ids_to_colours, label_ids_to_train_ids
from fullglow.data.resizing import resize_nearest, resize_photo
from fullglow.errors import UserInputError

log = logging.getLogger(__name__)

PHOTO_SUFFIX = "_leftImg8bit.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"
COLOUR_SUFFIX = "_gtFine_color.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"


class CityscapesRecord(NamedTuple):
    """The files of one Cityscapes frame; `stem` is e.g. `aachen_000000_000019`.

    `photo_path` is None for a labels-only dataset; `colour_path` and `instance_path` are None when
    the file is absent (colours are then made from the label ids, boundaries from label edges).
    """

    city: str
    stem: str
    photo_path: Path | None
    label_ids_path: Path
    colour_path: Path | None
    instance_path: Path | None


def _split_folder(root: Path, part: str, split: str) -> Path:
    folder = root / part / split
    if not folder.is_dir():
        parent = root / part
        found = sorted(p.name for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
        hint = f" (splits there: {', '.join(found)})" if found else ""
        raise UserInputError(
            f"Cityscapes root {root}: missing folder {folder}{hint}; expected the official layout "
            f"ROOT/{part}/{{train,val,test}}/{{city}}/..."
        )
    return folder


def _scan(folder: Path, suffix: str) -> dict[tuple[str, str], Path]:
    """`(city, stem) -> path` for every `{city}/{stem}{suffix}` below `folder`."""
    return {
        (path.parent.name, path.name[: -len(suffix)]): path
        for path in folder.glob(f"*/*{suffix}")
        if path.is_file()
    }


def _unpaired_message(keys: set[tuple[str, str]], have: str, lack: str) -> str:
    names = sorted(f"{city}/{stem}" for city, stem in keys)
    shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
    return f"{len(names)} {have} without a matching {lack}: {shown}"


def _pair_files(
    photos: dict[tuple[str, str], Path], labels: dict[tuple[str, str], Path], root: Path
) -> None:
    problems = []
    if photos.keys() - labels.keys():
        problems.append(
            _unpaired_message(photos.keys() - labels.keys(), "photos", f"*{LABEL_IDS_SUFFIX}")
        )
    if labels.keys() - photos.keys():
        problems.append(
            _unpaired_message(labels.keys() - photos.keys(), "label maps", f"*{PHOTO_SUFFIX}")
        )
    if problems:
        raise UserInputError(f"Cityscapes root {root}: " + "; ".join(problems))


class CityscapesDataset(Dataset[Sample]):
    """Frames of one Cityscapes split as `Sample`s.

    The source image is the colour label map (`*_gtFine_color.png`, or the label ids through the
    official palette when that file is missing); train ids come from the label ids; the boundary
    map marks pixels whose instance id (`*_gtFine_instanceIds.png`, else the label id) differs
    from a 4-neighbour's.

    Args:
        root: the folder holding `leftImg8bit/` and `gtFine/`.
        split: a split folder name, e.g. "train", "val" or "test".
        image_size: `(H, W)` to resize to (photos antialiased, labels nearest neighbour, boundaries
            computed on the resized instance map); None keeps the files' size.
        flip: mirror each sample horizontally with probability 1/2 (torch's RNG, so DataLoader
            workers draw different flips), all parts alike.
        require_photos: False builds the dataset from `gtFine/` alone (for synthesising photos
            from labels); `Sample.photo` is then all zeros and `photo_path` is None.
    """

    def __init__(
        self,
        root: Path | str,
        split: str = "train",
        image_size: tuple[int, int] | None = None,
        flip: bool = False,
        require_photos: bool = True,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.image_size = image_size
        self.flip = flip
        self.require_photos = require_photos
        if not self.root.is_dir():
            raise UserInputError(f"Cityscapes root {self.root}: no such folder")
        label_folder = _split_folder(self.root, "gtFine", split)
        labels = _scan(label_folder, LABEL_IDS_SUFFIX)
        photos: dict[tuple[str, str], Path] = {}
        if require_photos:
            photos = _scan(_split_folder(self.root, "leftImg8bit", split), PHOTO_SUFFIX)
            _pair_files(photos, labels, self.root)
        if not labels:
            raise UserInputError(
                f"Cityscapes root {self.root}: no *{LABEL_IDS_SUFFIX} files in {label_folder}/*/"
            )

        def optional(label_path: Path, suffix: str) -> Path | None:
            path = label_path.with_name(label_path.name[: -len(LABEL_IDS_SUFFIX)] + suffix)
            return path if path.is_file() else None

        self.records: list[CityscapesRecord] = [
            CityscapesRecord(
                city=city,
                stem=stem,
                photo_path=photos.get((city, stem)),
                label_ids_path=path,
                colour_path=optional(path, COLOUR_SUFFIX),
                instance_path=optional(path, INSTANCE_SUFFIX),
            )
            for (city, stem), path in sorted(labels.items())
        ]
        missing = sum(r.instance_path is None for r in self.records)
        if missing:
            log.warning(
                "%d of %d frames in %s have no *%s: their boundaries are label-class edges",
                missing, len(self.records), label_folder, INSTANCE_SUFFIX,
            )  # fmt: skip

    def __len__(self) -> int:
        return len(self.records)

    def load_label_ids(self, index: int) -> np.ndarray:
        """The original `(H0, W0)` uint8 label ids of frame `index`, at the files' size."""
        return read_label_ids(self.records[index].label_ids_path)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        label_ids = self.load_label_ids(index)
        where = str(record.label_ids_path)
        shape = label_ids.shape

        def same_shape(array: np.ndarray, path: Path) -> np.ndarray:
            if array.shape[:2] != shape:
                raise UserInputError(
                    f"{path}: size {array.shape[1]}x{array.shape[0]} (WxH) differs from its label "
                    f"map {record.label_ids_path} ({shape[1]}x{shape[0]})"
                )
            return array

        size = self.image_size or shape
        if record.photo_path is not None:
            photo = resize_photo(same_shape(read_rgb(record.photo_path), record.photo_path), size)
        else:
            photo = np.zeros((*size, 3), dtype=np.uint8)
        if record.colour_path is not None:
            colour = same_shape(read_rgb(record.colour_path), record.colour_path)
        else:
            colour = label_ids_to_colours(label_ids, where)
        if record.instance_path is not None:
            instances = same_shape(read_instance_ids(record.instance_path), record.instance_path)
        else:
            instances = label_ids

        train_ids = resize_nearest(label_ids_to_train_ids(label_ids, where), size)
        colour = resize_nearest(colour, size)
        instances = resize_nearest(instances, size)
        flip = self.flip and bool(torch.rand(()) < 0.5)
        return make_sample(photo, colour, train_ids, instance_boundaries(instances), flip)
