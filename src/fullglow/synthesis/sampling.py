"""Synthesizing photos for every label of a split, batched, written in the Cityscapes layout.

Batch `b` of round `r` draws its noise from `fullglow.synthesis.seeds.batch_generator(device, seed,
r, b)`: a round is reproducible on its own, and every temperature of a sweep decodes the same
standard-normal draws `eps` scaled by `T` (a flow samples `z = mean + T * sd * eps` at every
level), so temperatures differ only by `T`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from fullglow.data.cityscapes import CityscapesDataset, CityscapesRecord
from fullglow.data.image_io import write_png
from fullglow.data.item import Sample
from fullglow.errors import UserInputError
from fullglow.files import staged_directory
from fullglow.synthesis.generation import (
    check_image_size,
    check_sampling_options,
    generate,
    model_condition,
    model_device,
    side_input,
    temperatures_of,
    to_model,
)
from fullglow.synthesis.images import cityscapes_photo_path, diverged_samples, to_uint8
from fullglow.synthesis.seeds import batch_generator
from fullglow.synthesis.splits import sequential_loader

log = logging.getLogger(__name__)


class ImageWriter:
    """Writes PNGs on background threads while the model generates the next batch.

    `write` first waits for the previous batch's files, so at most two batches are in memory;
    a failed write raises at the next `write` or when the `with` block ends.
    """

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.pending: list[Future] = []

    def write(self, items: Sequence[tuple[Path, np.ndarray]]) -> None:
        self.flush()
        self.pending = [self.pool.submit(write_png, path, image) for path, image in items]

    def flush(self) -> None:
        for future in self.pending:
            future.result()
        self.pending = []

    def __enter__(self) -> ImageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def round_folder(root: Path, round_index: int) -> Path:
    """`root/round_{k}` with `k = round_index + 1` (rounds are numbered from 1 on disk)."""
    return root / f"round_{round_index + 1}"


@dataclass(frozen=True)
class SamplingSummary:
    """What `sample_split` wrote.

    Attributes:
        out_dir: the output root (`round_k/leftImg8bit/{split}/{city}/...` below it).
        n_images: images per round; rounds: how many rounds.
        temperature: the temperature used (None for a GAN).
        seconds: wall-clock time including writing.
        diverged: samples, over all rounds, whose values were not all finite (the flow's inverse
            overflowed); they are written as evaluation scores them, non-finite values as 0.
    """

    out_dir: Path
    n_images: int
    rounds: int
    temperature: float | None
    seconds: float
    diverged: int

    @property
    def images_per_second(self) -> float:
        return self.n_images * self.rounds / max(self.seconds, 1e-9)


def batches_with_records(
    loader: DataLoader, dataset: CityscapesDataset
) -> Iterator[tuple[int, Sample, list[CityscapesRecord]]]:
    """`(batch index, batch, its records)` of a `sequential_loader` over `dataset`."""
    offset = 0
    for batch_index, batch in enumerate(loader):
        size = batch.label_colour.shape[0]
        yield batch_index, batch, dataset.records[offset : offset + size]
        offset += size


def sample_split(
    model: nn.Module,
    dataset: CityscapesDataset,
    out_dir: str | Path,
    temperature: float | None = 0.8,
    rounds: int = 1,
    batch_size: int = 16,
    seed: int = 0,
    num_workers: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> SamplingSummary:
    """Synthesize a photo for every label of `dataset`, `rounds` times, in the Cityscapes layout.

    `denoise_sigma` and `guidance` are `generate`'s (a flow's self-denoising step and guidance
    weight; None: neither).

    Writes `out_dir/round_k/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png` (`k = 1..rounds`),
    8-bit PNGs clamped to [0, 1]. The model runs on its own device, `batch_size` labels at a time;
    the whole tree is built in a temporary folder and renamed to `out_dir` at the end.
    `progress`: show a progress bar.

    Raises:
        UserInputError: `rounds` or `batch_size` < 1, a bad denoising sigma or guidance weight
            (`check_sampling_options`), an empty dataset,
            images of another size than the model's, or an existing `out_dir` without
            `overwrite`.
    """
    if rounds < 1:
        raise UserInputError(f"rounds must be >= 1, got {rounds}")
    check_sampling_options(denoise_sigma, guidance)
    temperature = temperatures_of(model, [temperature])[0]
    loader = sequential_loader(dataset, batch_size, num_workers)
    device = model_device(model)
    start = time.perf_counter()
    diverged = 0
    bar = tqdm(total=len(dataset) * rounds, desc="sampling", unit="img", disable=not progress)
    with staged_directory(Path(out_dir), overwrite) as staging, ImageWriter() as writer, bar:
        for round_index in range(rounds):
            root = round_folder(staging, round_index)
            for batch_index, batch, records in batches_with_records(loader, dataset):
                check_image_size(model, batch, str(dataset.root))
                generator = batch_generator(device, seed, round_index, batch_index)
                cond = model_condition(model, batch.label_colour)
                side = side_input(model, to_model(model, batch.boundary))
                generated = generate(
                    model, cond, side, temperature, generator, denoise_sigma, guidance
                )
                diverged += int(diverged_samples(generated).sum())
                photos = to_uint8(generated)
                paths = [
                    cityscapes_photo_path(root, dataset.split, r.city, r.stem) for r in records
                ]
                for path in {p.parent for p in paths}:
                    path.mkdir(parents=True, exist_ok=True)
                writer.write(list(zip(paths, photos, strict=True)))
                bar.update(len(records))
    seconds = time.perf_counter() - start
    summary = SamplingSummary(Path(out_dir), len(dataset), rounds, temperature, seconds, diverged)
    if diverged:
        log.warning(
            "%d of %d samples diverged (NaN or infinite values, written as 0)",
            diverged, len(dataset) * rounds,
        )  # fmt: skip
    log.info(
        "wrote %d x %d images to %s (%.1f images/s)",
        rounds, len(dataset), out_dir, summary.images_per_second,
    )  # fmt: skip
    return summary
