"""Validation on a fixed held-out subset, and the sample grids written during training."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from fullglow.files import atomic_write
from fullglow.likelihood import bits_per_dim
from fullglow.training.batches import Batch

GRID_TEMPERATURES = (0.7, 1.0)


@torch.no_grad()
def validate(module: nn.Module, batches: Iterable[Batch]) -> float:
    """Mean over the samples of the validation metric, lower is better.

    Likelihood models: the conditional bits per dimension `bpd(x | cond)` of the dequantized
    photos (fixed noise, so values compare across steps). pix2pix: the mean absolute error
    between a seeded sample and the photo, in [0, 1] units.
    """
    was_training = module.training
    module.eval()
    total, count = 0.0, 0
    for batch in batches:
        if module.has_likelihood:
            log_prob = module.log_prob(batch.x, batch.cond, batch.side)
            values = bits_per_dim(log_prob, module.num_dims, module.config.n_bits)
        else:
            generator = torch.Generator(device=batch.x.device).manual_seed(0)
            fake = module.sample(batch.cond, generator=generator, side=batch.side)
            values = (fake - batch.photo).abs().flatten(1).mean(dim=1)
        total += float(values.double().sum())
        count += batch.size
    module.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def sample_grid(module: nn.Module, batch: Batch, seed: int) -> Tensor:
    """A `(3, B * H, 4 * W)` grid in [0, 1]: one row per sample, columns condition | real |
    sample at T = 0.7 | sample at T = 1.0 (seeded, so grids of different steps compare)."""
    was_training = module.training
    module.eval()
    columns = [batch.label_colour, batch.photo]
    for temperature in GRID_TEMPERATURES:
        generator = torch.Generator(device=batch.x.device).manual_seed(seed)
        sample = module.sample(batch.cond, temperature, generator=generator, side=batch.side)
        columns.append(sample.clamp(0.0, 1.0))
    module.train(was_training)
    rows = torch.cat(columns, dim=3)  # (B, 3, H, 4W)
    return torch.cat(list(rows), dim=1)  # (3, B*H, 4W)


def write_grid_png(path: Path, image: Tensor) -> None:
    """Write a `(3, H, W)` image in [0, 1] as an 8-bit PNG, atomically."""
    array = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    pixels = np.ascontiguousarray(array.permute(1, 2, 0).cpu().numpy())
    atomic_write(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))
