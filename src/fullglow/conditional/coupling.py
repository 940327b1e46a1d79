"""Conditional coupling (Full-Glow eqs. 7-10; affine as in the paper, or additive)."""

from __future__ import annotations

from torch import Tensor, nn

from fullglow.conditional.networks import ConditioningConfig, ConditioningConv
from fullglow.layers.coupling import make_coupling


class ConditionalCoupling(nn.Module):
    """A coupling (`make_coupling(coupling, ...)`) whose network reads `cat(x1, CN_c(cond))`.

    `CN_c` is two padded 3x3 convolutions (paper: "two convolutional layers") mapping the
    condition to as many channels as `x`. Shapes: `x (B, C, H, W)`, `cond (B, C_cond, H, W)`.
    """

    def __init__(
        self,
        channels: int,
        cond_channels: int,
        hidden_channels: int,
        config: ConditioningConfig,
        coupling: str = "affine",
        scale_floor: float = 0.0,
    ) -> None:
        super().__init__()
        self.net = ConditioningConv(cond_channels, channels, config)
        self.coupling = make_coupling(coupling, channels, hidden_channels, channels, scale_floor)

    def forward(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        return self.coupling(x, self.net(cond))

    def inverse(self, y: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        return self.coupling.inverse(y, self.net(cond))
