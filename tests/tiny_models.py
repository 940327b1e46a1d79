"""A tiny Full-Glow for the tests that sample from a model whose labels matter."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fullglow.models.registry import build_model
from fullglow.synthesis.splits import open_dataset_split

SIZE = (16, 32)


def tiny_fullglow(root: Path, seed: int = 0) -> nn.Module:
    """A 2-block Full-Glow at 16x32, data-initialised on `root`'s train split, every weight
    nudged off its initial value so that the conditioning networks really use the label (they
    start at zero)."""
    torch.manual_seed(seed)
    model = build_model("fullglow", "tiny", image_size=SIZE)
    batch = next(
        iter(torch.utils.data.DataLoader(open_dataset_split(root, "train", SIZE), batch_size=8))
    )
    model.initialize(batch.photo, batch.label_colour)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    return model.eval()


def train_tiny_run(root: Path, out: Path, size: tuple[int, int] = SIZE, **options: object) -> Path:
    """A run folder of the tiny Full-Glow trained for 2 steps of batch 4 on `root` at `size`,
    with the `TrainConfig` `options` (label dropout, noise sigma, ...)."""
    from fullglow.training import TrainConfig, train

    config = TrainConfig(
        model="fullglow", preset="tiny", image_size=size, data=str(root), steps=2, batch_size=4,
        val_every=0, sample_every=0, log_every=1, **options,
    )  # fmt: skip
    train(config, out)
    return out
