"""The self-denoising step of a flow trained on noisy photos (TarFlow, Zhai et al. 2024).

A flow trained on `y = x + sigma * N(0, I)` (`TrainConfig.noise_sigma`) models the noisy density
`p_sigma`; its samples carry that noise. Tweedie's formula gives the posterior mean of the clean
photo from the noisy one with the flow's own score,

    E[x | y] = y + sigma**2 * grad_y log p_sigma(y | c),

one backward pass through the model for the whole batch: every sample's `log p` depends only on
its own inputs, so the gradient of the batch's sum is each sample's own gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def denoise(model: nn.Module, x: Tensor, cond: Tensor, side: Tensor | None, sigma: float) -> Tensor:
    """`x + sigma**2 * grad_x log p(x | cond)`, `(B, C, H, W)`, detached; `sigma` > 0.

    Samples with a non-finite value are returned as they are (their gradient is meaningless).
    """
    if not sigma > 0:
        raise ValueError(f"the denoising sigma must be > 0, got {sigma}")
    finite = torch.isfinite(x.flatten(1)).all(dim=1)
    with torch.enable_grad():
        noisy = torch.where(finite[:, None, None, None], x, 0.5).detach().requires_grad_(True)
        (score,) = torch.autograd.grad(model.log_prob(noisy, cond, side).sum(), noisy)
    denoised = noisy.detach() + sigma**2 * score
    return torch.where(finite[:, None, None, None], denoised, x)
