"""Invertible 1x1 convolution with an LU-parametrised kernel (Glow, section 3.2).

`W = P (L + I) (U + diag(sign * exp(log_s)))`, `L` strictly lower, `U` strictly upper, `P` and
`sign` fixed from the LU decomposition of a random rotation. `log|det W| = sum(log_s)`, so the
layer's log-det is `H * W * sum(log_s)` per sample. The helpers below work on one kernel `(C, C)`
or a batch of kernels `(B, C, C)` alike, which the conditional 1x1 convolution relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass(frozen=True)
class LUFactors:
    """The LU factors of a random rotation: `W0 = permutation @ lower @ (upper + diag(sign * exp(log_s)))`."""

    permutation: Tensor  # (C, C)
    lower: Tensor  # (C, C), unit diagonal
    upper: Tensor  # (C, C), strictly upper part used
    sign: Tensor  # (C,)
    log_s: Tensor  # (C,)


def random_rotation_lu(channels: int) -> LUFactors:
    """Sample a random rotation (QR of a Gaussian matrix) and factorise it as `P L U`."""
    rotation = torch.linalg.qr(torch.randn(channels, channels, dtype=torch.float64))[0]
    permutation, lower, upper = torch.linalg.lu(rotation)
    diag = torch.diagonal(upper)
    return LUFactors(
        permutation=permutation.float(),
        lower=lower.float(),
        upper=torch.triu(upper, 1).float(),
        sign=torch.sign(diag).float(),
        log_s=torch.log(diag.abs()).float(),
    )


def _triangles(lower: Tensor, upper: Tensor, sign: Tensor, log_s: Tensor) -> tuple[Tensor, Tensor]:
    eye = torch.eye(lower.shape[-1], dtype=lower.dtype, device=lower.device)
    unit_lower = torch.tril(lower, -1) + eye
    upper_with_diag = torch.triu(upper, 1) + torch.diag_embed(sign * torch.exp(log_s))
    return unit_lower, upper_with_diag


def lu_weight(
    permutation: Tensor, lower: Tensor, upper: Tensor, sign: Tensor, log_s: Tensor
) -> Tensor:
    """Assemble `W = P (L + I) (U + diag(sign * exp(log_s)))`: `(..., C, C)`."""
    unit_lower, upper_with_diag = _triangles(lower, upper, sign, log_s)
    return permutation @ unit_lower @ upper_with_diag


def lu_solve(
    permutation: Tensor, lower: Tensor, upper: Tensor, sign: Tensor, log_s: Tensor, y: Tensor
) -> Tensor:
    """Solve `W x = y` for `y` of shape `(..., C, N)` with two triangular solves, no matrix inverse."""
    unit_lower, upper_with_diag = _triangles(lower, upper, sign, log_s)
    a = permutation.transpose(-1, -2) @ y
    b = torch.linalg.solve_triangular(unit_lower, a, upper=False, unitriangular=True)
    return torch.linalg.solve_triangular(upper_with_diag, b, upper=True)


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, LU-parametrised. Shapes: `(B, C, H, W) -> (B, C, H, W)`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        factors = random_rotation_lu(channels)
        self.register_buffer("permutation", factors.permutation)
        self.register_buffer("sign", factors.sign)
        self.lower = nn.Parameter(factors.lower)
        self.upper = nn.Parameter(factors.upper)
        self.log_s = nn.Parameter(factors.log_s)

    def weight(self) -> Tensor:
        return lu_weight(self.permutation, self.lower, self.upper, self.sign, self.log_s)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h, w = x.shape[2:]
        weight = self.weight()
        y = F.conv2d(x, weight.reshape(*weight.shape, 1, 1))
        return y, (h * w * self.log_s.sum()).expand(x.shape[0])

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = y.shape
        x = lu_solve(
            self.permutation, self.lower, self.upper, self.sign, self.log_s, y.reshape(b, c, h * w)
        )
        return x.reshape(b, c, h, w), -(h * w * self.log_s.sum()).expand(b)
