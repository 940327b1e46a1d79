"""Importing pix2pix's aligned Cityscapes (photo | JPEG colour label) into the official layout.

The `cityscapes` download of pix2pix, CycleGAN and BicycleGAN holds `SRC/train/*.jpg` (2975) and
`SRC/val/*.jpg` (500), each 512x256 with the photo on the left and the official colour label on
the right, both squashed to 256x256. `import_aligned_pairs` writes them as

```
OUT/leftImg8bit/{split}/pix2pix/pix2pix_{seq:06d}_000019_leftImg8bit.png
OUT/gtFine/{split}/pix2pix/pix2pix_{seq:06d}_000019_gtFine_labelIds.png
OUT/gtFine/{split}/pix2pix/pix2pix_{seq:06d}_000019_gtFine_color.png
OUT/pix2pix_import.json                       (the noise summary, `ImportSummary`)
```

with `seq` the source file's number (`17.jpg` -> `000017`; a name that is not a number is kept
as it is), the label ids recovered by `snap_colour_label` and the colours redrawn from them in the
exact palette. There are no instance ids, so `CityscapesDataset` takes boundaries from class edges.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from fullglow.data.cityscapes import COLOUR_SUFFIX, LABEL_IDS_SUFFIX, PHOTO_SUFFIX
from fullglow.data.image_io import list_images, read_rgb, read_size, write_png
from fullglow.data.labels import label_ids_to_colours
from fullglow.data.paired import Direction, check_direction, split_aligned
from fullglow.data.palette_snap import FAR_FROM_PALETTE, SnapSettings, snap_colour_label
from fullglow.errors import UserInputError
from fullglow.files import atomic_write_text, staged_directory

CITY = "pix2pix"
SPLITS = ("train", "val", "test")
SUMMARY_FILE = "pix2pix_import.json"
SOURCE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


@dataclass(frozen=True)
class SplitNoise:
    """The label noise of one split, in pixels.

    Attributes:
        split: "train", "val" or "test".
        frames: the number of images.
        pixels: the number of label pixels.
        exact: pixels holding an exact palette colour.
        far: pixels more than `FAR_FROM_PALETTE` (RGB distance) from every palette colour.
        cleaned: pixels whose class the clean-up changed after snapping.
    """

    split: str
    frames: int
    pixels: int
    exact: int
    far: int
    cleaned: int


@dataclass(frozen=True)
class ImportSummary:
    """What `import_aligned_pairs` read, how, and the noise it found and fixed, per split."""

    source: str
    direction: Direction
    settings: SnapSettings
    splits: tuple[SplitNoise, ...]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    def table(self) -> str:
        """A Markdown table: frames and the shares of exact, far and cleaned label pixels."""
        lines = [
            "| split | frames | exact palette colour | far from palette (> 30) | changed by clean-up |",
            "|---|---|---|---|---|",
        ]
        for noise in self.splits:
            share = [100 * n / noise.pixels for n in (noise.exact, noise.far, noise.cleaned)]
            lines.append(
                f"| {noise.split} | {noise.frames} | {share[0]:.1f}% | {share[1]:.1f}% | "
                f"{share[2]:.1f}% |"
            )
        return "\n".join(lines)


def frame_stem(source: Path) -> str:
    """The Cityscapes stem of source image `source`: `17.jpg` -> `pix2pix_000017_000019`."""
    name = source.stem
    return f"{CITY}_{name.zfill(6) if name.isdigit() else name}_000019"


def scan_aligned_folder(source: Path) -> dict[str, list[Path]]:
    """The aligned images of each split folder of `source` (`train`, `val`, `test`).

    Every image must be a JPEG or PNG of one common size with an even width, and no two may map
    to the same Cityscapes stem; the sizes are read from the headers, so a bad folder is refused
    before anything is decoded or written.

    Raises:
        UserInputError: no split folder, a split without jpg/png images, odd width, mixed sizes,
            two images with the same stem.
    """
    if not source.is_dir():
        raise UserInputError(f"{source}: no such folder")
    found = {split: source / split for split in SPLITS if (source / split).is_dir()}
    if not found:
        raise UserInputError(
            f"{source}: expected aligned pairs in {source}/train/ and {source}/val/ "
            "(pix2pix's cityscapes download), found neither"
        )
    images: dict[str, list[Path]] = {}
    size: tuple[int, int, Path] | None = None
    for split, folder in found.items():
        paths = [p for p in list_images(folder) if p.suffix.lower() in SOURCE_SUFFIXES]
        if not paths:
            raise UserInputError(f"{folder}: no .jpg or .png images (expected aligned pairs)")
        stems: dict[str, Path] = {}
        for path in paths:
            if frame_stem(path) in stems:
                raise UserInputError(
                    f"{folder}: {stems[frame_stem(path)].name} and {path.name} would both be "
                    f"imported as {frame_stem(path)}"
                )
            stems[frame_stem(path)] = path
            height, width = read_size(path)
            if size is None:
                size = (height, width, path)
            if width % 2:
                raise UserInputError(
                    f"{path}: width {width} is odd, so it cannot hold a photo and a label side "
                    "by side"
                )
            if (height, width) != size[:2]:
                raise UserInputError(
                    f"{path} is {width}x{height} but {size[2]} is {size[1]}x{size[0]} (WxH): "
                    "an aligned folder holds pairs of one size"
                )
        images[split] = paths
    return images


def _import_split(
    out: Path,
    split: str,
    paths: list[Path],
    direction: Direction,
    settings: SnapSettings,
    bar: tqdm,
) -> SplitNoise:
    photos = out / "leftImg8bit" / split / CITY
    labels = out / "gtFine" / split / CITY
    photos.mkdir(parents=True)
    labels.mkdir(parents=True)
    pixels = exact = far = cleaned = 0
    for path in paths:
        colour, photo = split_aligned(read_rgb(path), path, direction)
        snapped = snap_colour_label(colour, settings)
        stem = frame_stem(path)
        write_png(photos / f"{stem}{PHOTO_SUFFIX}", photo)
        write_png(labels / f"{stem}{LABEL_IDS_SUFFIX}", snapped.label_ids)
        write_png(labels / f"{stem}{COLOUR_SUFFIX}", label_ids_to_colours(snapped.label_ids))
        pixels += snapped.label_ids.size
        exact += int((snapped.rgb_distance == 0).sum())
        far += int((snapped.rgb_distance > FAR_FROM_PALETTE).sum())
        cleaned += int(snapped.changed.sum())
        bar.update()
    return SplitNoise(split, len(paths), pixels, exact, far, cleaned)


def import_aligned_pairs(
    source: Path | str,
    out: Path | str,
    *,
    direction: Direction = "BtoA",
    settings: SnapSettings | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportSummary:
    """Write pix2pix's aligned Cityscapes pairs under `source` as the official layout in `out`.

    All or nothing: the output is filled in a temporary folder beside `out` that becomes `out`
    when every frame is written, so an error or an interruption leaves `out` as it was.

    Args:
        source: the folder holding `train/` and/or `val/` (and `test/`) of aligned images.
        out: the folder to create (absent or empty unless `overwrite`).
        direction: which half is the label, as in `PairedFolderDataset`: "BtoA" (pix2pix's
            cityscapes: photo A on the left, label B on the right) or "AtoB" (label on the left).
        settings: the snapping and clean-up (`SnapSettings()` when None).
        overwrite: replace a non-empty `out`.
        progress: show a progress bar.

    Returns:
        The `ImportSummary`, also written to `out/pix2pix_import.json`.

    Raises:
        UserInputError: `source` is not a folder of aligned pairs (see `scan_aligned_folder`),
            `out` exists, or an image cannot be read.
    """
    source, out = Path(source), Path(out)
    check_direction(direction)
    settings = settings or SnapSettings()
    images = scan_aligned_folder(source)
    with (
        staged_directory(out, overwrite) as staging,
        tqdm(
            total=sum(len(paths) for paths in images.values()),
            desc="import-pix2pix",
            unit="frame",
            disable=not progress,
        ) as bar,
    ):
        splits = tuple(
            _import_split(staging, split, paths, direction, settings, bar)
            for split, paths in images.items()
        )
        summary = ImportSummary(str(source), direction, settings, splits)
        atomic_write_text(staging / SUMMARY_FILE, summary.to_json())
    return summary
