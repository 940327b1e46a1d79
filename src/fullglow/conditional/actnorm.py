"""Conditional actnorm (Full-Glow eq. 5): per-sample scale and shift from a conditioning network."""

from __future__ import annotations

import torch
from torch import Tensor

from fullglow.conditional.networks import ConditioningConfig, ConditioningMLP
from fullglow.layers.actnorm import DataInitialized


class ConditionalActNorm(DataInitialized):
    """`(log_scale, bias) = CN(cond)`, `y = exp(log_scale) * (x + bias)` per sample and channel.

    Unlike the authors' code, the scale is parametrised as `exp(log_scale)`, so it can never cross
    zero and `log|s|` never meets 0. The CN's last layer starts at weight 0 and bias
    `(-log(std + 1e-6), -mean)` of the first batch's `x` (data-dependent initialisation on the first
    forward call in training mode, or `initialize`): the layer starts as ordinary actnorm.
    `logdet = H * W * sum_c log_scale[b, c]` for each sample `b`.
    Shapes: `x (B, C, H, W)`, `cond (B, C_cond, H, W)` -> `(B, C, H, W)`.
    """

    def __init__(
        self, channels: int, cond_channels: int, size: tuple[int, int], config: ConditioningConfig
    ) -> None:
        super().__init__()
        self.channels = channels
        self.net = ConditioningMLP(cond_channels, size, 2 * channels, config)

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3), unbiased=False)
        self.net.head.weight.zero_()
        self.net.head.bias.copy_(torch.cat([-torch.log(std + 1e-6), -mean]))
        self.mark_initialized()

    def _params(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        log_scale, bias = self.net(cond).chunk(2, dim=1)  # (B, C) each
        h, w = x.shape[2:]
        return log_scale[:, :, None, None], bias[:, :, None, None], h * w * log_scale.sum(dim=1)

    def forward(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        if self.needs_initialization():
            self.initialize(x)
        log_scale, bias, logdet = self._params(x, cond)
        return (x + bias) * torch.exp(log_scale), logdet

    def inverse(self, y: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        log_scale, bias, logdet = self._params(y, cond)
        return y * torch.exp(-log_scale) - bias, -logdet
