"""Writing a generated dataset to disk, in the Cityscapes layout, atomically."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from tqdm import tqdm

from fullglow.data.cityscapes import COLOUR_SUFFIX, INSTANCE_SUFFIX, LABEL_IDS_SUFFIX, PHOTO_SUFFIX
from fullglow.data.image_io import write_png
from fullglow.data.labels import label_ids_to_colours
from fullglow.data.synthetic.scene import render_frame
from fullglow.errors import UserInputError

log = logging.getLogger(__name__)

CITIES = {"train": "synthtrain", "val": "synthval"}
"""The one "city" of each split; a frame's stem is `{city}_{index:06d}_000019`."""

MIN_SIZE = 16


def frame_seeds(seed: int, split: str, index: int) -> tuple[list[int], list[int]]:
    """The layout and style seeds of frame `index` of `split`: every frame has its own streams,
    so a frame does not depend on how many were made before it."""
    split_index = list(CITIES).index(split)
    return [seed, split_index, index, 0], [seed, split_index, index, 1]


def _check_arguments(
    root: Path, n_train: int, n_val: int, size: tuple[int, int], seed: int, overwrite: bool
) -> None:
    if seed < 0:
        raise UserInputError(f"the seed must be >= 0, got {seed}")
    if n_train < 0 or n_val < 0 or n_train + n_val == 0:
        raise UserInputError(
            f"frame counts must be >= 0 and not both 0, got n_train={n_train}, n_val={n_val}"
        )
    if min(size) < MIN_SIZE:
        raise UserInputError(
            f"image size {size[0]}x{size[1]} is too small: both sides must be >= {MIN_SIZE}"
        )
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not overwrite:
        raise UserInputError(
            f"{root} exists and is not empty; choose a new folder or pass --overwrite to replace it"
        )


def synthesize_dataset(
    root: Path | str,
    *,
    n_train: int,
    n_val: int,
    size: tuple[int, int],
    seed: int,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Generate `n_train` + `n_val` street scenes of `size = (H, W)` into `root`, in the
    Cityscapes layout (photos, `labelIds`, `color`, `instanceIds`), deterministically for `seed`.

    The frames are written into a temporary folder beside `root`, which then replaces `root` in
    one rename, so an interrupted run leaves nothing half written. `root` must be absent or empty
    unless `overwrite`. Returns `root`.
    """
    root = Path(root)
    _check_arguments(root, n_train, n_val, size, seed, overwrite)
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.parent / f".{root.name}.partial-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        with tqdm(
            total=n_train + n_val, desc="synth-data", unit="frame", disable=not progress
        ) as bar:
            for split, count in (("train", n_train), ("val", n_val)):
                _write_split(partial, split, count, size, seed, bar)
        _replace(partial, root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("wrote %d train and %d val frames of %dx%d to %s", n_train, n_val, *size, root)
    return root


def _write_split(
    root: Path, split: str, count: int, size: tuple[int, int], seed: int, bar: tqdm
) -> None:
    city = CITIES[split]
    photos = root / "leftImg8bit" / split / city
    labels = root / "gtFine" / split / city
    photos.mkdir(parents=True)
    labels.mkdir(parents=True)
    for index in range(count):
        frame = render_frame(size, *frame_seeds(seed, split, index))
        stem = f"{city}_{index:06d}_000019"
        write_png(photos / f"{stem}{PHOTO_SUFFIX}", frame.photo)
        write_png(labels / f"{stem}{LABEL_IDS_SUFFIX}", frame.label_ids)
        write_png(labels / f"{stem}{COLOUR_SUFFIX}", label_ids_to_colours(frame.label_ids))
        write_png(labels / f"{stem}{INSTANCE_SUFFIX}", frame.instance_ids)
        bar.update()


def _replace(partial: Path, root: Path) -> None:
    """Move the finished `partial` folder to `root`, replacing what is there."""
    if not root.exists():
        os.replace(partial, root)
        return
    if not any(root.iterdir()):
        os.replace(partial, root)  # renaming onto an empty folder replaces it
        return
    old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(root, old)
    os.replace(partial, root)
    shutil.rmtree(old)
