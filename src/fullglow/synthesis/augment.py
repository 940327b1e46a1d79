"""A synthetic training set: photos generated from labels, with the labels beside them.

For every frame `{city}/{stem}` of a labels-only split and every `k < per_label`, writes

```
OUT/leftImg8bit/{split}/{city}/{stem}-s{k}_leftImg8bit.png          generated photo
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_labelIds.png           its label ids
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_color.png              official colours
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_instanceIds.png        (when the input has them)
```

at the model's image size (labels resized with nearest neighbour), so `CityscapesDataset(OUT,
split)` or any Cityscapes segmentation trainer reads it. The `-s{k}` suffix keeps the official
`{city}_{seq}_{frame}` stem parseable (it extends the frame field). Sample `k` of batch `b` uses
the noise of round `k` (see `fullglow.synthesis.seeds`). A sample whose values are not all
finite (the flow's inverse diverged) is left out with its labels, and counted in the summary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn
from tqdm import tqdm

from fullglow.data.cityscapes import (
    COLOUR_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_IDS_SUFFIX,
    CityscapesDataset,
    CityscapesRecord,
)
from fullglow.data.image_io import read_instance_ids
from fullglow.data.labels import label_ids_to_colours
from fullglow.data.resizing import resize_nearest
from fullglow.errors import UserInputError
from fullglow.files import staged_directory
from fullglow.synthesis.generation import (
    check_image_size,
    generate,
    model_condition,
    model_device,
    side_input,
    temperatures_of,
    to_model,
)
from fullglow.synthesis.images import cityscapes_photo_path, diverged_samples, to_uint8
from fullglow.synthesis.sampling import ImageWriter, batches_with_records
from fullglow.synthesis.seeds import batch_generator
from fullglow.synthesis.splits import sequential_loader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AugmentSummary:
    """What `augment_dataset` wrote: `n_labels * per_label - skipped` photo/label pairs in
    `out_dir`; `skipped` samples diverged (NaN or infinite values) and were left out."""

    out_dir: Path
    split: str
    n_labels: int
    per_label: int
    seconds: float
    skipped: int

    @property
    def n_images(self) -> int:
        return self.n_labels * self.per_label - self.skipped


def _label_files(
    labels: CityscapesDataset, index: int, record: CityscapesRecord, size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """`{suffix: array}` of one frame's label files at `size`."""
    label_ids = resize_nearest(labels.load_label_ids(index), size)
    files = {
        LABEL_IDS_SUFFIX: label_ids,
        COLOUR_SUFFIX: label_ids_to_colours(label_ids, str(record.label_ids_path)),
    }
    if record.instance_path is not None:
        instances = read_instance_ids(record.instance_path)
        if instances.size and (int(instances.min()) < 0 or int(instances.max()) > 65535):
            raise UserInputError(f"{record.instance_path}: instance ids do not fit 16 bits")
        files[INSTANCE_SUFFIX] = resize_nearest(instances, size).astype(np.uint16)
    return files


def augment_dataset(
    model: nn.Module,
    labels: CityscapesDataset,
    out_dir: str | Path,
    per_label: int = 1,
    temperature: float | None = 0.8,
    batch_size: int = 16,
    seed: int = 0,
    num_workers: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> AugmentSummary:
    """Generate `per_label` photos for each label of `labels` and write the dataset (see module).

    `labels` must be loaded at the model's size (`open_dataset_split(..., require_photos=False)`).
    `progress`: show a progress bar.

    Raises:
        UserInputError: `per_label` < 1, an empty split, labels of another size than the
            model's, or an existing `out_dir` without `overwrite`.
    """
    if per_label < 1:
        raise UserInputError(f"per-label must be >= 1, got {per_label}")
    temperature = temperatures_of(model, [temperature])[0]
    loader = sequential_loader(labels, batch_size, num_workers)
    device = model_device(model)
    size = tuple(model.config.image_size)
    split = labels.split
    start = time.perf_counter()
    skipped = 0
    bar = tqdm(total=len(labels) * per_label, desc="augmenting", unit="img", disable=not progress)
    with staged_directory(Path(out_dir), overwrite) as staging, ImageWriter() as writer, bar:
        offset = 0
        for batch_index, batch, records in batches_with_records(loader, labels):
            check_image_size(model, batch, str(labels.root))
            cond = model_condition(model, batch.label_colour)
            side = side_input(model, to_model(model, batch.boundary))
            label_files = [_label_files(labels, offset + i, r, size) for i, r in enumerate(records)]
            offset += len(records)
            for k in range(per_label):
                generator = batch_generator(device, seed, k, batch_index)
                generated = generate(model, cond, side, temperature, generator)
                diverged = diverged_samples(generated).tolist()
                skipped += sum(diverged)
                photos = to_uint8(generated)
                items = []
                for record, photo, files, bad in zip(
                    records, photos, label_files, diverged, strict=True
                ):
                    if bad:
                        continue
                    stem = f"{record.stem}-s{k}"
                    photo_path = cityscapes_photo_path(staging, split, record.city, stem)
                    label_dir = staging / "gtFine" / split / record.city
                    for folder in (photo_path.parent, label_dir):
                        folder.mkdir(parents=True, exist_ok=True)
                    items.append((photo_path, photo))
                    items.extend((label_dir / f"{stem}{suffix}", a) for suffix, a in files.items())
                writer.write(items)
                bar.update(len(records))
    summary = AugmentSummary(
        Path(out_dir), split, len(labels), per_label, time.perf_counter() - start, skipped
    )
    if skipped:
        log.warning(
            "left out %d of %d samples that diverged (NaN or infinite values)",
            skipped, len(labels) * per_label,
        )  # fmt: skip
    log.info(
        "wrote %d generated photos with their labels to %s (%.1f s)",
        summary.n_images, out_dir, summary.seconds,
    )  # fmt: skip
    return summary
