"""Conditional bits per dimension of a split: `-log2 p(x_b | x_a)` per dimension (paper, section 5).

For each photo `x_b` with colour label `x_a` (and boundary side information when the model takes
it) and each of `K` dequantization draws `u_k ~ U(0, 1/256)^D`,

    bpd_k = (-log p(x_b + u_k | x_a) + D log 256) / (D log 2),

exactly, per sample (the models give each sample its own log-density at any batch size). A photo's
score is the mean over its `K` draws and the split's score is the mean over photos. The noise of
draw `k` of photo `i` is drawn on the CPU from a generator seeded with `(seed, k, i)`, so the
result does not depend on the batch size or the device. With `noise_sigma`, the draws are Gaussian
instead (`gaussian_dequantize`: bin centre plus `sigma * N(0, I)`): the density a model trained
with that noise learned, which is not a bound on the discrete likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm import tqdm

from fullglow.data.cityscapes import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.likelihood import bits_per_dim, dequantize, gaussian_dequantize
from fullglow.synthesis.generation import check_image_size, model_condition, side_input, to_model
from fullglow.synthesis.seeds import derive_seed
from fullglow.synthesis.splits import sequential_loader


@dataclass(frozen=True)
class BpdResult:
    """Conditional bits per dimension of a split.

    Attributes:
        per_image: `(N,)` float64, each photo's bpd averaged over the draws.
        draws: `K`, the dequantization draws per photo.
    """

    per_image: Tensor
    draws: int

    @property
    def mean(self) -> float:
        """The split's conditional BPD (mean over photos)."""
        return float(self.per_image.mean())


def dequantize_per_image(
    photos: Tensor,
    first_index: int,
    draw: int,
    seed: int,
    n_bits: int,
    noise_sigma: float | None = None,
) -> Tensor:
    """Dequantize photos `(B, C, H, W)` (CPU) of split indices `first_index ..`, noise seeded per
    `(seed, draw, index)`, uniform or (`noise_sigma`) Gaussian; see the module docstring."""
    photos_noised = []
    for i, photo in enumerate(photos):
        generator = torch.Generator().manual_seed(derive_seed(seed, draw, first_index + i))
        if noise_sigma is None:
            photos_noised.append(dequantize(photo, n_bits, generator))
        else:
            photos_noised.append(gaussian_dequantize(photo, noise_sigma, n_bits, generator))
    return torch.stack(photos_noised)


@torch.no_grad()
def conditional_bpd(
    model: nn.Module,
    dataset: CityscapesDataset,
    batch_size: int = 16,
    draws: int = 4,
    seed: int = 0,
    num_workers: int = 0,
    progress: bool = True,
    noise_sigma: float | None = None,
) -> BpdResult:
    """Exact conditional BPD of every photo of `dataset` under a flow, on the model's device
    (`progress`: show a progress bar); `noise_sigma`: under Gaussian noise of that sigma instead
    of the uniform dequantization.

    Raises:
        UserInputError: the model has no likelihood (pix2pix), `draws` < 1, an empty dataset or
            images of another size than the model's.
    """
    if not model.has_likelihood:
        raise UserInputError(f"{type(model).__name__} has no likelihood: no bits per dimension")
    if draws < 1:
        raise UserInputError(f"dequantization draws must be >= 1, got {draws}")
    loader = sequential_loader(dataset, batch_size, num_workers)
    n_bits = int(model.config.n_bits)
    totals = torch.zeros(len(dataset), dtype=torch.float64)
    offset = 0
    for batch in tqdm(loader, desc="conditional bpd", unit="batch", disable=not progress):
        check_image_size(model, batch, str(dataset.root))
        size = batch.photo.shape[0]
        cond = model_condition(model, batch.label_colour)
        side = side_input(model, to_model(model, batch.boundary))
        for draw in range(draws):
            photos = dequantize_per_image(batch.photo, offset, draw, seed, n_bits, noise_sigma)
            x = to_model(model, photos)
            bpd = bits_per_dim(model.log_prob(x, cond, side), model.num_dims, n_bits)
            totals[offset : offset + size] += bpd.double().cpu()
        offset += size
    return BpdResult(per_image=totals / draws, draws=draws)
