"""Calling a model to generate: its device and dtype, the side input it was built for, the image
size it generates, and the temperatures it takes (none for a GAN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from fullglow.condition import condition_bits, prepare_condition
from fullglow.data.item import Sample
from fullglow.errors import UserInputError
from fullglow.synthesis.denoise import denoise
from fullglow.synthesis.guidance import guided_sample, null_label

PAPER_TEMPERATURES = tuple(round(0.1 * k, 1) for k in range(11))
"""The paper's Table 2 sweep: T = 0.0, 0.1, ..., 1.0."""


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


def model_condition(model: nn.Module, label_colour: Tensor) -> Tensor:
    """The condition `model` gets at use for colour label images `(B, 3, H, W)` as read: on its
    device, in its dtype, prepared as in training without the noise (`fullglow.condition`)."""
    return prepare_condition(to_model(model, label_colour), condition_bits(model))


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


def check_sampling_options(denoise_sigma: float | None, guidance: float | None) -> None:
    """Raise `UserInputError` unless `denoise_sigma` is None or a finite number > 0 and
    `guidance` is None or a finite number (the options `generate` takes beyond plain sampling)."""
    if denoise_sigma is not None and not (math.isfinite(denoise_sigma) and denoise_sigma > 0):
        raise UserInputError(f"the denoising sigma must be > 0, got {denoise_sigma}")
    if guidance is not None and not math.isfinite(guidance):
        raise UserInputError(f"the guidance weight must be a finite number, got {guidance}")


@torch.no_grad()
def generate(
    model: nn.Module,
    cond: Tensor,
    side: Tensor | None,
    temperature: float | None,
    generator: torch.Generator,
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> Tensor:
    """Photos `(B, 3, H, W)` for colour labels `cond` `(B, 3, H, W)`; `temperature` None for a GAN.

    `denoise_sigma`: a flow trained on photos with Gaussian noise of this sigma has its samples
    denoised by one score step (`fullglow.synthesis.denoise`); None: none. `guidance`: a flow's
    guidance weight `w` against the null label (`fullglow.synthesis.guidance`); None: unguided.
    """
    if not model.has_likelihood:
        return model.sample(cond, generator=generator, side=side)
    if guidance is None:
        photos = model.sample(cond, temperature=temperature, generator=generator, side=side)
    else:
        photos = guided_sample(
            model, cond, null_label(cond), guidance, temperature, generator, side
        )
    if denoise_sigma is None:
        return photos
    return denoise(model, photos, cond, side, denoise_sigma)


def check_image_size(model: nn.Module, batch: Sample, where: str) -> None:
    """Raise `UserInputError` unless the batch's images have the model's `(H, W)`."""
    expected = tuple(model.config.image_size)
    actual = tuple(batch.label_colour.shape[-2:])
    if actual != expected:
        raise UserInputError(
            f"{where}: images are {actual[0]}x{actual[1]}, the model generates "
            f"{expected[0]}x{expected[1]}; load the data at the model's size"
        )
