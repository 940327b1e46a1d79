"""Conditional invertible 1x1 convolution (Full-Glow eq. 6): a different `W` for every sample."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.conditional.networks import ConditioningConfig, ConditioningMLP
from fullglow.layers.invconv import lu_solve, lu_weight, random_rotation_lu


class ConditionalInvConv1x1(nn.Module):
    """`(L, U, log_s) = CN(cond)`, `W_b = P (L_b + I) (U_b + diag(sign * exp(log_s_b)))`, `y_b = W_b x_b`.

    The CN outputs `2 C^2 + C` numbers per sample (the strictly lower and upper parts are taken from
    two `C x C` blocks). Its last layer starts at weight 0 and bias = the flattened LU factors of a
    random rotation `W0 = P L0 U0`, so every sample starts with `W0`; `P` and `sign` stay fixed.
    Forward is a batched matrix product, inverse two batched triangular solves: no loop over samples.
    `logdet = H * W * sum(log_s_b)` per sample.
    Shapes: `x (B, C, H, W)`, `cond (B, C_cond, H, W)` -> `(B, C, H, W)`.
    """

    def __init__(
        self, channels: int, cond_channels: int, size: tuple[int, int], config: ConditioningConfig
    ) -> None:
        super().__init__()
        self.channels = channels
        factors = random_rotation_lu(channels)
        self.register_buffer("permutation", factors.permutation)
        self.register_buffer("sign", factors.sign)
        self.net = ConditioningMLP(cond_channels, size, 2 * channels**2 + channels, config)
        with torch.no_grad():
            self.net.head.bias.copy_(
                torch.cat([factors.lower.flatten(), factors.upper.flatten(), factors.log_s])
            )

    def _factors(self, cond: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c = self.channels
        out = self.net(cond)
        lower = out[:, : c * c].reshape(-1, c, c)
        upper = out[:, c * c : 2 * c * c].reshape(-1, c, c)
        return lower, upper, out[:, 2 * c * c :]

    def weight(self, cond: Tensor) -> Tensor:
        """The per-sample kernels `(B, C, C)`."""
        lower, upper, log_s = self._factors(cond)
        return lu_weight(self.permutation, lower, upper, self.sign, log_s)

    def forward(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        lower, upper, log_s = self._factors(cond)
        weight = lu_weight(self.permutation, lower, upper, self.sign, log_s)
        y = torch.bmm(weight, x.reshape(b, c, h * w)).reshape(b, c, h, w)
        return y, h * w * log_s.sum(dim=1)

    def inverse(self, y: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = y.shape
        lower, upper, log_s = self._factors(cond)
        x = lu_solve(self.permutation, lower, upper, self.sign, log_s, y.reshape(b, c, h * w))
        return x.reshape(b, c, h, w), -h * w * log_s.sum(dim=1)
