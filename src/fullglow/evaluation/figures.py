"""Figures of samples, shaped like the paper's Figure 2: labels, real photos and samples in columns.

`grid_samples` draws the first batch of round 0 exactly as `evaluate_model` draws it (the same
generator and batch), so a figure shows samples that were scored. On sheets laid out by
`fullglow.synthesis.sheet.compose_figure`, `real_columns` and one `model_column` per model make
Figure 2 (`fullglow compare --figure`), `temperatures_figure` the
samples of one model at each temperature (`RUN/eval/samples.png` of `fullglow evaluate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from fullglow.data.cityscapes import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.evaluation.tables import temperature_cell
from fullglow.synthesis.generation import (
    generate,
    model_condition,
    model_device,
    side_input,
    temperatures_of,
)
from fullglow.synthesis.images import displayable
from fullglow.synthesis.seeds import batch_generator
from fullglow.synthesis.sheet import FigureColumn, compose_figure
from fullglow.training.runs import LoadedRun, display_name


@dataclass(frozen=True)
class GridSamples:
    """Samples of the first `rows` labels of a split at each temperature.

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
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> GridSamples:
    """The first batch of round 0 as `evaluate_model` samples it (same generator, the same
    `denoise_sigma` and `guidance`, see `generate`), cut to `rows`."""
    device = model_device(model)
    count = min(batch_size, len(dataset))
    batch = default_collate([dataset[i] for i in range(count)])
    cond = model_condition(model, batch.label_colour)
    side = side_input(model, batch.boundary.to(device))
    chosen = temperatures_of(model, list(temperatures))
    images = tuple(
        displayable(
            generate(
                model, cond, side, t, batch_generator(device, seed, 0, 0), denoise_sigma, guidance
            )
        )[:rows].cpu()
        for t in chosen
    )
    return GridSamples(chosen, images)


def check_rows(dataset: CityscapesDataset, rows: int, batch_size: int | None = None) -> None:
    """Raise `UserInputError` unless `1 <= rows <= len(dataset)` and, since a figure shows the
    first batch that was scored, `rows <= batch_size`."""
    if not 1 <= rows <= len(dataset):
        raise UserInputError(
            f"a figure of {rows} rows needs 1 to {len(dataset)} labels ({dataset.root}, "
            f"{dataset.split} has {len(dataset)})"
        )
    if batch_size is not None and rows > batch_size:
        raise UserInputError(
            f"a figure shows the first batch of samples: {rows} rows need a batch size of at "
            f"least {rows}, got {batch_size}"
        )


def real_columns(dataset: CityscapesDataset, rows: int) -> list[FigureColumn]:
    """The "Conditioning" (colour labels) and "Ground truth" columns of the first `rows` frames."""
    check_rows(dataset, rows)
    samples = [dataset[i] for i in range(rows)]
    return [
        FigureColumn("Conditioning", torch.stack([s.label_colour for s in samples])),
        FigureColumn("Ground truth", torch.stack([s.photo for s in samples])),
    ]


def model_column(
    run: LoadedRun,
    dataset: CityscapesDataset,
    rows: int,
    temperature: float,
    batch_size: int,
    seed: int,
    label: str | None = None,
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> FigureColumn:
    """A model's samples of the first `rows` labels, at `temperature` for a flow (the paper's
    Figure 2 uses 0.7), titled `label` (default: the paper's name of the model) and the
    temperature; `denoise_sigma` and `guidance` as in `grid_samples`.

    Raises:
        UserInputError: see `check_rows`.
    """
    check_rows(dataset, rows, batch_size)
    samples = grid_samples(
        run.model, dataset, [temperature], rows, batch_size, seed, denoise_sigma, guidance
    )
    flow_temperature = temperature if run.model.has_likelihood else None
    return FigureColumn(
        model_title(label or display_name(run.name), flow_temperature), samples.at(temperature)
    )


def model_title(label: str, temperature: float | None) -> str:
    """`"Full-Glow, T = 0.7"`; just the label for a model without temperature (None)."""
    return label if temperature is None else f"{label}, T = {temperature_cell(temperature)}"


def temperatures_figure(
    run: LoadedRun,
    dataset: CityscapesDataset,
    rows: int,
    temperatures: Sequence[float],
    batch_size: int,
    seed: int,
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> np.ndarray:
    """Label, real photo, then the model's samples at each temperature (one column each) of the
    first `rows` labels of `dataset`; a model without temperature (pix2pix) has one column;
    `denoise_sigma` and `guidance` as in `grid_samples`.

    Raises:
        UserInputError: see `check_rows`.
    """
    check_rows(dataset, rows, batch_size)
    columns = real_columns(dataset, rows)
    samples = grid_samples(
        run.model, dataset, temperatures, rows, batch_size, seed, denoise_sigma, guidance
    )
    name = display_name(run.name)
    for temperature, images in zip(samples.temperatures, samples.images, strict=True):
        columns.append(FigureColumn(model_title(name, temperature), images))
    return compose_figure(columns)
