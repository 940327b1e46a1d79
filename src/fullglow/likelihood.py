"""Pure functions for likelihoods: dequantization, standard-normal log-density, bits per dimension.

Images live in [0, 1]. A discrete image with `n_bins = 2**n_bits` levels is dequantized with uniform
noise `x + U(0, 1/n_bins)`; a continuous density `p` on [0, 1]^D then bounds the discrete
probability, and the bits per dimension of model-spec.md are

    bpd = (-log p(x) + D * log(n_bins)) / (D * log 2),    D = C * H * W.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def dequantize(x: Tensor, n_bits: int = 8, generator: torch.Generator | None = None) -> Tensor:
    """Add uniform noise `U(0, 1/n_bins)` to images `x` in [0, 1] that hold `2**n_bits` levels.

    The input is first snapped to its bin (`floor(x * n_bins) / n_bins`), so 8-bit images read as
    `uint8 / 255` and images already on the `k / n_bins` grid are treated alike.
    """
    n_bins = 2**n_bits
    binned = torch.clamp(torch.floor(x * n_bins), max=n_bins - 1) / n_bins
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return binned + noise / n_bins


def gaussian_dequantize(
    x: Tensor, sigma: float, n_bits: int = 8, generator: torch.Generator | None = None
) -> Tensor:
    """Images `x` in [0, 1] at the centre of their bin plus Gaussian noise `sigma * N(0, I)`.

    The option beside `dequantize` for noise-augmented training (TarFlow): the model then learns
    the density of the noisy photos, and its samples are denoised afterwards
    (`fullglow.synthesis.denoise`). Its bits per dimension (same formula) measure that noisy
    density, not a bound on the discrete likelihood.
    """
    n_bins = 2**n_bits
    binned = torch.clamp(torch.floor(x * n_bins), max=n_bins - 1) / n_bins
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return binned + 0.5 / n_bins + sigma * noise


def standard_normal_log_prob(eps: Tensor) -> Tensor:
    """`sum log N(eps; 0, I)` over all but the batch dimension: `(B, ...) -> (B,)`."""
    flat = eps.flatten(1)
    return -0.5 * (flat.pow(2) + math.log(2 * math.pi)).sum(dim=1)


def bits_per_dim(log_prob: Tensor, num_dims: int, n_bits: int = 8) -> Tensor:
    """Bits per dimension of a continuous log-density in nats on [0, 1]^D (elementwise)."""
    n_bins = 2**n_bits
    return (-log_prob + num_dims * math.log(n_bins)) / (num_dims * math.log(2.0))
