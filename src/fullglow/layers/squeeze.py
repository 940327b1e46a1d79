"""Space-to-depth squeeze: `(B, C, H, W) -> (B, 4C, H/2, W/2)`, volume preserving."""

from __future__ import annotations

from torch import Tensor, nn


def squeeze(x: Tensor) -> Tensor:
    """Move every 2x2 spatial patch into channels: `(B, C, H, W) -> (B, 4C, H/2, W/2)`."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // 2, 2, w // 2, 2)  # (B, C, H/2, 2, W/2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(y: Tensor) -> Tensor:
    """Inverse of `squeeze`: `(B, 4C, H, W) -> (B, C, 2H, 2W)`."""
    b, c4, h, w = y.shape
    y = y.reshape(b, c4 // 4, 2, 2, h, w)  # (B, C, 2, 2, H, W)
    return y.permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)


class Squeeze(nn.Module):
    """Squeeze as an invertible layer (log-det 0)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return squeeze(x), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return unsqueeze(y), y.new_zeros(y.shape[0])
