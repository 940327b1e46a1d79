"""The condition image as a model sees it: one preparation for training and for every use.

The condition of a flow is the colour label image `x_a` in [0, 1] (8-bit values `k / 255`). Training
dequantizes it like the photo, `x_a' = floor(x_a n) / n + u` with `u ~ U(0, 1/n)^D` and
`n = 2**n_bits` (`fullglow.likelihood.dequantize`), so the model learns from conditions spread
over each colour's bin. Evaluation, sampling and transfer feed it the mean of that noise, the bin
centre `floor(x_a n) / n + 1 / (2 n)`: deterministic (a sample depends only on its seed) and the
middle of what the model saw in training, not the raw `k / 255`, which lies at the bin's lower
edge (or past it: `255 / 255 = 1` is outside every bin `[k / n, (k + 1) / n)`). Models without a
likelihood (pix2pix) see the label as read in both. `fullglow.synthesis.generation.model_condition`
is the one call every use makes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.likelihood import dequantize


def condition_bits(model: nn.Module) -> int | None:
    """The `n_bits` a model's condition is binned with: its config's for a flow, None for a model
    without a likelihood (pix2pix), which takes the label as read."""
    return int(model.config.n_bits) if model.has_likelihood else None


def prepare_condition(
    label_colour: Tensor, n_bits: int | None, noise: torch.Generator | None = None
) -> Tensor:
    """The condition a model gets for colour label images `(B, 3, H, W)` (or `(3, H, W)`) in [0, 1].

    Args:
        label_colour: the label images as read.
        n_bits: `condition_bits(model)`; None: the images are returned as they are.
        noise: training's generator: the condition is dequantized with noise drawn from it. None
            (evaluation, sampling, transfer): the noise's mean, each value's bin centre.
    """
    if n_bits is None:
        return label_colour
    if noise is not None:
        return dequantize(label_colour, n_bits, noise)
    n_bins = 2**n_bits
    binned = torch.clamp(torch.floor(label_colour * n_bins), max=n_bins - 1)
    return (binned + 0.5) / n_bins
