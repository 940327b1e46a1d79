"""Small convolutional networks shared by the layers: the zero-initialised output convolution."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ZeroConv2d(nn.Module):
    """3x3 convolution whose weights, bias and per-channel log-scale start at zero (Glow).

    `y = conv(x) * exp(3 * scale)`; at initialisation `y == 0`, so a coupling or a prior that ends
    in this layer starts as the identity or the standard normal.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.conv.weight, self.conv.bias, padding=1) * torch.exp(3 * self.scale)
