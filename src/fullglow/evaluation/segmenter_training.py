"""Train the `PSPNet` segmenter from scratch on real photos and their train-id labels.

The objective is the per-pixel cross-entropy over labelled pixels (train id 255 is ignored),
minimised with Adam under PSPNet's "poly" schedule `lr_t = lr * (1 - t / steps) ** 0.9`.
Augmentation is whatever the dataset applies (e.g. `CityscapesDataset(..., flip=True)`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from fullglow.errors import UserInputError
from fullglow.evaluation.metrics import IGNORE_INDEX, SegmentationScores
from fullglow.evaluation.segmenter import PSPNet, SegmenterConfig, evaluate_segmenter
from fullglow.evaluation.segmenter_io import check_output_path, save_segmenter

log = logging.getLogger(__name__)

# Defaults sized for the built-in generator's photos at 64x128 on a 2-core CPU (about a minute).
DEFAULT_STEPS = 600
DEFAULT_BATCH_SIZE = 8
DEFAULT_LR = 2e-3


@dataclass(frozen=True)
class SegmenterReport:
    """What `train_segmenter` did.

    Attributes:
        path: the segmenter directory written.
        steps: optimisation steps taken.
        losses: the training loss of every step.
        seconds: wall-clock time of training (without validation).
        val_scores: scores on the validation photos, or None without a validation set.
    """

    path: Path
    steps: int
    losses: tuple[float, ...]
    seconds: float
    val_scores: SegmentationScores | None

    @property
    def final_loss(self) -> float:
        """Mean loss over the last tenth of the steps (a single step's loss is noisy)."""
        tail = self.losses[-max(1, len(self.losses) // 10) :]
        return sum(tail) / len(tail)


def segmentation_loss(logits: Tensor, train_ids: Tensor) -> Tensor:
    """Mean cross-entropy of logits `(B, K, H, W)` over the labelled pixels of `(B, H, W)`.

    A batch without any labelled pixel gives 0 (not NaN as `F.cross_entropy`'s mean would).
    """
    total = F.cross_entropy(logits, train_ids, ignore_index=IGNORE_INDEX, reduction="sum")
    return total / (train_ids != IGNORE_INDEX).sum().clamp(min=1)


def _batches(loader: DataLoader) -> Iterator:
    """Endless batches, reshuffled at every pass over the data."""
    while True:
        yield from loader


def train_segmenter(
    train_dataset: Dataset,
    config: SegmenterConfig,
    steps: int,
    batch_size: int,
    lr: float,
    device: torch.device | str,
    seed: int,
    out_dir: str | Path,
    val_dataset: Dataset | None = None,
) -> SegmenterReport:
    """Train a `PSPNet` on `fullglow.data.Sample`s, save it to `out_dir`, score it on `val_dataset`.

    The photos must have `config.image_size`. Runs are reproducible for a `seed` on the CPU: the
    seed drives the initialisation, the shuffling and the dataset's random flips, inside a forked
    random state that leaves the caller's untouched.

    Raises:
        UserInputError: bad steps/batch size/lr, an empty dataset, photos of another size than
            `config.image_size`, or an `out_dir` that is not a segmenter directory.
    """
    out_dir = Path(out_dir)
    check_output_path(out_dir)
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise UserInputError(
            f"steps ({steps}), batch size ({batch_size}) and lr ({lr}) must be > 0"
        )
    if len(train_dataset) == 0:
        raise UserInputError("the training set is empty")
    device = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PSPNet(config).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: (1 - t / steps) ** 0.9)
        loader = DataLoader(
            train_dataset,
            batch_size=batch_size,
            shuffle=True,
            drop_last=len(train_dataset) >= batch_size,
            generator=torch.Generator().manual_seed(seed),
        )
        losses: list[float] = []
        model.train()
        start = time.perf_counter()
        bar = tqdm(range(steps), desc="segmenter", unit="step")
        for _, batch in zip(bar, _batches(loader), strict=False):
            photo, train_ids = batch.photo.to(device), batch.train_ids.to(device)
            if tuple(photo.shape[-2:]) != tuple(config.image_size):
                raise UserInputError(
                    f"training photos are {tuple(photo.shape[-2:])}, but the segmenter config "
                    f"says image_size={config.image_size}"
                )
            loss = segmentation_loss(model(photo), train_ids)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        seconds = time.perf_counter() - start
    log.info("trained the segmenter for %d steps in %.1f s, final loss %.3f", steps, seconds, loss)
    val_scores = None if val_dataset is None else evaluate_segmenter(model, val_dataset, batch_size)
    info: dict = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    if val_scores is not None:
        info["val"] = {
            "pixel_accuracy": val_scores.pixel_accuracy,
            "class_accuracy": val_scores.class_accuracy,
            "mean_iou": val_scores.mean_iou,
        }
        log.info("segmenter on the real val photos: %s", info["val"])
    path = save_segmenter(model.cpu(), out_dir, info)
    return SegmenterReport(path, steps, tuple(losses), seconds, val_scores)
