"""Batches that mix real and synthetic samples at a fixed ratio.

The training set is `ConcatDataset([real, extra])`: indices `0..R-1` are real, `R..R+E-1`
synthetic. Batch `t` (`t = 0, 1, ...`) of size `B` holds

    e_t = floor((t + 1) * B * r) - floor(t * B * r)

synthetic samples and `B - e_t` real ones, so after `T` batches exactly `floor(T * B * r)` of the
`T * B` samples are synthetic: the ratio `r` holds over any stretch of batches to within one
sample. Each part is drawn without replacement from its own permutation, reshuffled whenever it
runs out, from a generator seeded with `seed` (reproducible, independent of the global RNG).
The default ratio, `E / (R + E)`, is what shuffling the two datasets together gives on average.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from fullglow.errors import UserInputError


def default_extra_ratio(n_real: int, n_extra: int) -> float:
    """`E / (R + E)`: the share of synthetic samples in the two datasets together."""
    return n_extra / (n_real + n_extra)


class _Permutations:
    """Endless indices `offset + 0..n-1`, a fresh random permutation at each pass."""

    def __init__(self, n: int, offset: int, generator: torch.Generator) -> None:
        self.n, self.offset, self.generator = n, offset, generator
        self.order: list[int] = []

    def take(self, count: int) -> list[int]:
        taken = []
        while len(taken) < count:
            if not self.order:
                self.order = (
                    torch.randperm(self.n, generator=self.generator) + self.offset
                ).tolist()
            taken.append(self.order.pop())
        return taken


class MixedBatchSampler(Sampler[list[int]]):
    """`num_batches` batches of `batch_size` indices into `ConcatDataset([real, extra])` with a
    share `ratio` of synthetic samples (see the module docstring)."""

    def __init__(
        self,
        n_real: int,
        n_extra: int,
        batch_size: int,
        ratio: float,
        num_batches: int,
        seed: int = 0,
    ) -> None:
        if not 0 <= ratio <= 1:
            raise UserInputError(f"--extra-ratio must be between 0 and 1, got {ratio}")
        if batch_size < 1 or num_batches < 1:
            raise UserInputError(
                f"batch size ({batch_size}) and batches ({num_batches}) must be >= 1"
            )
        if (ratio < 1 and n_real < 1) or (ratio > 0 and n_extra < 1):
            raise UserInputError(
                f"a ratio of {ratio} needs real ({n_real}) and synthetic ({n_extra}) samples"
            )
        self.n_real, self.n_extra = n_real, n_extra
        self.batch_size, self.ratio = batch_size, ratio
        self.num_batches, self.seed = num_batches, seed

    def extra_in_batch(self, t: int) -> int:
        """`e_t`, the synthetic samples of batch `t`."""
        share = self.batch_size * self.ratio
        return math.floor((t + 1) * share + 1e-9) - math.floor(t * share + 1e-9)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        real = _Permutations(self.n_real, 0, generator)
        extra = _Permutations(self.n_extra, self.n_real, generator)
        for t in range(self.num_batches):
            count = self.extra_in_batch(t)
            yield real.take(self.batch_size - count) + extra.take(count)
