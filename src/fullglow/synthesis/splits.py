"""Opening a split of a Cityscapes-layout dataset for synthesis or scoring, and reading it in order."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from fullglow.data.cityscapes import CityscapesDataset
from fullglow.errors import UserInputError


def open_dataset_split(
    root: str | Path, split: str, image_size: tuple[int, int], require_photos: bool = True
) -> CityscapesDataset:
    """A split of a Cityscapes-layout dataset resized to `image_size` (the model's).

    `require_photos` (scoring a model against the real photos) on a tree of labels alone is
    refused with the route that scores it without them: `fullglow sample`, then
    `fullglow evaluate --samples`.

    Raises:
        UserInputError: the folder or split is missing or holds no frames.
    """
    root = Path(root)
    if (
        require_photos
        and (root / "gtFine" / split).is_dir()
        and not (root / "leftImg8bit" / split).is_dir()
    ):
        raise UserInputError(
            f"{root}: split {split!r} has labels (gtFine/{split}) but no photos "
            f"(leftImg8bit/{split}), which scoring a run needs (the BPD and the real photos' "
            f"row); with labels alone, generate the photos and score them: fullglow sample "
            f"--run RUN --data {root} --split {split} --rounds 3 --out SAMPLES, then fullglow "
            f"evaluate --samples SAMPLES --data {root} --split {split} --segmenter SEG"
        )
    dataset = CityscapesDataset(root, split, image_size=image_size, require_photos=require_photos)
    if len(dataset) == 0:
        raise UserInputError(f"{root}: split {split!r} holds no images")
    return dataset


def sequential_loader(dataset: CityscapesDataset, batch_size: int, num_workers: int) -> DataLoader:
    """Batches of the dataset in its record order (so batch `b` holds records `b*B .. b*B+B-1`).

    Raises:
        UserInputError: the batch size is < 1 or the dataset is empty.
    """
    if batch_size < 1:
        raise UserInputError(f"batch size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise UserInputError(f"num_workers must be >= 0, got {num_workers}")
    if len(dataset) == 0:
        raise UserInputError(f"{dataset.root}: split {dataset.split!r} holds no images")
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
