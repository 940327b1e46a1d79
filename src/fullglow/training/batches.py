"""From dataset samples to model inputs: datasets, a resumable sampler, keyed dequantization noise.

The random parts of a batch (dequantization noise, flips) are drawn per sample from a generator
keyed by `(seed, step, slot)`, where `slot` is the sample's place in the *global* batch. A run's
data noise therefore depends neither on the number of processes nor on where it was interrupted:
one process with batch `B` and `N` processes with `B / N` each see the same samples with the same
noise, and a resumed run draws exactly what the uninterrupted one would have drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler, Sampler, default_collate

from fullglow.condition import prepare_condition
from fullglow.data.item import Sample
from fullglow.errors import UserInputError
from fullglow.likelihood import dequantize, gaussian_dequantize
from fullglow.training.config import TrainConfig

VALIDATION_KEY = 2**31 - 1
"""The `step` key of validation and sample-grid noise: fixed, so values compare across steps."""


@dataclass(frozen=True)
class Batch:
    """Model inputs for one batch.

    Attributes:
        x: `(B, 3, H, W)` dequantized target photos.
        cond: `(B, 3, H, W)` dequantized colour label images (the condition, see
            `fullglow.condition`).
        side: `(B, 1, H, W)` instance boundaries, or None without side information.
        photo: `(B, 3, H, W)` the photos as read (for sample grids).
        label_colour: `(B, 3, H, W)` the label images as read.
    """

    x: Tensor
    cond: Tensor
    side: Tensor | None
    photo: Tensor
    label_colour: Tensor

    @property
    def size(self) -> int:
        return self.x.shape[0]


def open_split(config: TrainConfig, split: str, image_size: tuple[int, int]) -> Dataset:
    """The `split` of the configured dataset, resized to `image_size`, without random flips
    (flips are drawn with the keyed noise instead, so that they resume exactly)."""
    from fullglow.data import CityscapesDataset, PairedFolderDataset

    if config.dataset == "cityscapes":
        return CityscapesDataset(config.data, split=split, image_size=image_size, flip=False)
    return PairedFolderDataset(
        config.data, split=split, image_size=image_size, direction=config.direction, flip=False,
        cityscapes_palette=config.cityscapes_palette,
    )  # fmt: skip


class ResumableSampler(Sampler[int]):
    """One epoch of a `DistributedSampler`'s order, starting `skip` samples in.

    Resuming mid-epoch skips the batches already trained on by their indices: nothing is read.
    """

    def __init__(self, base: DistributedSampler, skip: int) -> None:
        self.base = base
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.base), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.base) - self.skip)


def first_global_batch(dataset: Dataset, config: TrainConfig) -> list[int]:
    """Indices of the first batch of epoch 0 over all processes (the sampler order, world size 1)."""
    order = DistributedSampler(
        dataset, num_replicas=1, rank=0, shuffle=True, seed=config.seed, drop_last=True
    )
    order.set_epoch(0)
    return list(itertools.islice(iter(order), config.batch_size))


def _sample_keys(seed: int, step: int, slot: int) -> tuple[int, bool]:
    """`(generator seed, flip)` of one sample, from a hash of `(seed, step, slot)`."""
    words = np.random.SeedSequence([seed, step, slot]).generate_state(3, dtype=np.uint32)
    return int(words[0]) << 32 | int(words[1]), bool(words[2] & 1)


def prepare_batch(
    samples: Sample,
    *,
    config: TrainConfig,
    n_bits: int | None,
    step: int,
    slots: Sequence[int],
    device: torch.device,
    flip: bool,
) -> Batch:
    """Move a collated `Sample` to `device`, flip and dequantize it with per-sample keyed noise.

    `samples` is a collated `fullglow.data.Sample` (fields `photo`, `label_colour`, `boundary`);
    `slots[i]` is sample `i`'s place in the global batch of training step `step`. `n_bits` None:
    no dequantization (models without a likelihood, e.g. pix2pix, see the images as read).
    With `config.noise_sigma` the photos get Gaussian noise (`gaussian_dequantize`) instead of
    the uniform one; the labels are dequantized as usual. With `config.label_dropout = p`, a
    sample's label is replaced by the null label (all black, "unlabeled") with probability `p`
    (`fullglow.synthesis.guidance`).
    """
    dtype = getattr(torch, config.dtype)
    photo = samples.photo.to(device, dtype, non_blocking=True)
    colour = samples.label_colour.to(device, dtype, non_blocking=True)
    boundary = samples.boundary.to(device, dtype, non_blocking=True) if config.boundary else None
    xs, conds, sides, photos, colours = [], [], [], [], []
    for i, slot in enumerate(slots):
        generator_seed, flip_this = _sample_keys(config.seed, step, slot)
        generator = torch.Generator(device=device).manual_seed(generator_seed)
        parts = [photo[i], colour[i]] + ([boundary[i]] if boundary is not None else [])
        if flip and flip_this:
            parts = [part.flip(-1) for part in parts]
        if config.label_dropout and torch.rand((), generator=generator, device=device) < (
            config.label_dropout
        ):
            parts[1] = torch.zeros_like(parts[1])  # the null label: every pixel "unlabeled"
        photos.append(parts[0])
        colours.append(parts[1])
        if n_bits is None:
            xs.append(parts[0])
            conds.append(parts[1])
        else:
            xs.append(
                dequantize(parts[0], n_bits, generator)
                if config.noise_sigma is None
                else gaussian_dequantize(parts[0], config.noise_sigma, n_bits, generator)
            )
            conds.append(prepare_condition(parts[1], n_bits, generator))
        if boundary is not None:
            sides.append(parts[2])
    return Batch(
        x=torch.stack(xs),
        cond=torch.stack(conds),
        side=torch.stack(sides) if sides else None,
        photo=torch.stack(photos),
        label_colour=torch.stack(colours),
    )


def fixed_batches(
    dataset: Dataset,
    count: int,
    batch_size: int,
    config: TrainConfig,
    n_bits: int | None,
    device: torch.device,
) -> Iterator[Batch]:
    """The first `count` samples of `dataset` in order, in batches, with fixed keyed noise and no
    flips: the same inputs at every validation."""
    count = min(count, len(dataset))
    for start in range(0, count, batch_size):
        indices = range(start, min(start + batch_size, count))
        samples = default_collate([dataset[i] for i in indices])
        yield prepare_batch(
            samples,
            config=config,
            n_bits=n_bits,
            step=VALIDATION_KEY,
            slots=list(indices),
            device=device,
            flip=False,
        )


def check_enough_data(dataset: Dataset, split: str, needed: int, what: str) -> None:
    if len(dataset) < needed:
        raise UserInputError(
            f"{split} split has {len(dataset)} images, fewer than {what} ({needed})"
        )
