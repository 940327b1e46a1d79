"""What the demo adds to `fullglow.evaluation`: the grid's samples.

The scores themselves come from `fullglow.evaluation.evaluate.evaluate_model` (the paper's
section 5). The report's grid shows exactly the samples that were scored: the first batch of
round 0, drawn from the same `batch_generator(seed, round 0, batch 0)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from fullglow.data.cityscapes import CityscapesDataset
from fullglow.evaluation.images import displayable
from fullglow.evaluation.sampling import (
    batch_generator,
    generate,
    model_device,
    side_input,
    temperatures_of,
)


@dataclass(frozen=True)
class GridSamples:
    """Samples of the first `rows` val labels at each temperature.

    Attributes:
        temperatures: `T` of each entry (`(None,)` for pix2pix, which has no temperature).
        images: one `(rows, 3, H, W)` tensor in [0, 1] per temperature, 8-bit quantized.
    """

    temperatures: tuple[float | None, ...]
    images: tuple[Tensor, ...]

    def at(self, temperature: float) -> Tensor:
        """The samples at `temperature` (a GAN's only samples, whatever the temperature)."""
        if self.temperatures == (None,):
            return self.images[0]
        return self.images[self.temperatures.index(temperature)]


@torch.no_grad()
def grid_samples(
    model: nn.Module,
    dataset: CityscapesDataset,
    temperatures: Sequence[float],
    rows: int,
    batch_size: int,
    seed: int,
) -> GridSamples:
    """The first batch of round 0 as `evaluate_model` samples it (same generator), cut to `rows`."""
    device = model_device(model)
    count = min(batch_size, len(dataset))
    batch = default_collate([dataset[i] for i in range(count)])
    cond = batch.label_colour.to(device)
    side = side_input(model, batch.boundary.to(device))
    chosen = temperatures_of(model, list(temperatures))
    images = tuple(
        displayable(generate(model, cond, side, t, batch_generator(device, seed, 0, 0)))[
            :rows
        ].cpu()
        for t in chosen
    )
    return GridSamples(chosen, images)
