"""Synthesizing photos for every label of a split, batched, in the Cityscapes layout.

Randomness is tied to the data, not to the loop: the noise of batch `b` in round `r` comes from a
generator seeded with `derive_seed(seed, r, b)`. Hence a round is reproducible on its own, and
every temperature of a sweep decodes the same standard-normal draws `eps` scaled by `T` (a flow
samples `z = mean + T * sd * eps` at every level), so temperatures differ only by `T`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from fullglow.data.cityscapes import CityscapesDataset, CityscapesRecord
from fullglow.data.image_io import write_png
from fullglow.data.sample import Sample
from fullglow.errors import UserInputError
from fullglow.evaluation.images import cityscapes_photo_path, diverged_samples, to_uint8
from fullglow.files import staged_directory

log = logging.getLogger(__name__)

PAPER_TEMPERATURES = tuple(round(0.1 * k, 1) for k in range(11))
"""The paper's Table 2 sweep: T = 0.0, 0.1, ..., 1.0."""


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (NumPy's `SeedSequence`): nearby inputs, unrelated seeds."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def batch_generator(
    device: torch.device, seed: int, round_index: int, batch_index: int
) -> torch.Generator:
    """The generator of one batch of one round, on `device` (see the module docstring)."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, round_index, batch_index))


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def to_model(model: nn.Module, tensor: Tensor) -> Tensor:
    """`tensor` on the model's device, in the model's floating dtype (runs may train in float64)."""
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return tensor.to(device=parameter.device, dtype=parameter.dtype)
    return tensor.to(model_device(model))


def side_input(model: nn.Module, boundary: Tensor) -> Tensor | None:
    """The side information the model was built for: the boundary map `(B, 1, H, W)` or None."""
    return boundary if getattr(model.config, "side_channels", 0) else None


def temperatures_of(
    model: nn.Module, temperatures: Sequence[float | None]
) -> tuple[float | None, ...]:
    """The temperatures to run: `temperatures` for a flow, `(None,)` for pix2pix (a GAN has no
    latent temperature; its one row is labelled "—").

    Raises:
        UserInputError: a flow with no temperature, or a missing, negative or non-finite one.
    """
    if not model.has_likelihood:
        return (None,)
    if not temperatures:
        raise UserInputError("give at least one temperature")
    for value in temperatures:
        if value is None or not (np.isfinite(value) and value >= 0):
            raise UserInputError(f"a flow's temperature must be a number >= 0, got {value}")
    return tuple(float(t) for t in temperatures)


@torch.no_grad()
def generate(
    model: nn.Module,
    cond: Tensor,
    side: Tensor | None,
    temperature: float | None,
    generator: torch.Generator,
) -> Tensor:
    """Photos `(B, 3, H, W)` for colour labels `cond` `(B, 3, H, W)`; `temperature` None for a GAN."""
    if model.has_likelihood:
        return model.sample(cond, temperature=temperature, generator=generator, side=side)
    return model.sample(cond, generator=generator, side=side)


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


def check_image_size(model: nn.Module, batch: Sample, where: str) -> None:
    """Raise `UserInputError` unless the batch's images have the model's `(H, W)`."""
    expected = tuple(model.config.image_size)
    actual = tuple(batch.label_colour.shape[-2:])
    if actual != expected:
        raise UserInputError(
            f"{where}: images are {actual[0]}x{actual[1]}, the model generates "
            f"{expected[0]}x{expected[1]}; load the data at the model's size"
        )


def open_split(
    root: str | Path, split: str, image_size: tuple[int, int], require_photos: bool = True
) -> CityscapesDataset:
    """A split of a Cityscapes-layout dataset resized to `image_size` (the model's).

    Raises:
        UserInputError: the folder or split is missing or holds no frames.
    """
    dataset = CityscapesDataset(root, split, image_size=image_size, require_photos=require_photos)
    if len(dataset) == 0:
        raise UserInputError(f"{root}: split {split!r} holds no images")
    return dataset


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
) -> SamplingSummary:
    """Synthesize a photo for every label of `dataset`, `rounds` times, in the Cityscapes layout.

    Writes `out_dir/round_k/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png` (`k = 1..rounds`),
    8-bit PNGs clamped to [0, 1]. The model runs on its own device, `batch_size` labels at a time;
    the whole tree is built in a temporary folder and renamed to `out_dir` at the end.

    Raises:
        UserInputError: `rounds` or `batch_size` < 1, an empty dataset, images of another size
            than the model's, or an existing `out_dir` without `overwrite`.
    """
    if rounds < 1:
        raise UserInputError(f"rounds must be >= 1, got {rounds}")
    temperature = temperatures_of(model, [temperature])[0]
    loader = sequential_loader(dataset, batch_size, num_workers)
    device = model_device(model)
    start = time.perf_counter()
    diverged = 0
    bar = tqdm(total=len(dataset) * rounds, desc="sampling", unit="img")
    with staged_directory(Path(out_dir), overwrite) as staging, ImageWriter() as writer, bar:
        for round_index in range(rounds):
            root = round_folder(staging, round_index)
            for batch_index, batch, records in batches_with_records(loader, dataset):
                check_image_size(model, batch, str(dataset.root))
                generator = batch_generator(device, seed, round_index, batch_index)
                cond = to_model(model, batch.label_colour)
                side = side_input(model, to_model(model, batch.boundary))
                generated = generate(model, cond, side, temperature, generator)
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
