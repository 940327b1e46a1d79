"""Couplings (RealNVP / Glow) with optional conditioning features: affine (the paper's) and
additive (Glow's other choice, NICE's coupling).

`make_coupling(kind, ...)` builds either; `COUPLINGS` names the kinds a model config accepts.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fullglow.layers.nets import ConvNet, ZeroConv2d


class CouplingNetwork(ConvNet):
    """`conv3x3(-> hidden) ReLU, conv1x1(hidden -> hidden) ReLU, ZeroConv3x3(hidden -> out)`.

    Computes in channels-last on the CPU, optionally in bfloat16 (see `fullglow.layers.nets`);
    the ReLUs work in place on the convolutions' outputs, which nothing else reads. The output is
    contiguous, in the input's dtype. Shapes: `(B, in_channels, H, W) -> (B, out_channels, H, W)`.
    """

    mixed_precision = True

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, hidden_channels, 1),
            nn.ReLU(inplace=True),
            ZeroConv2d(hidden_channels, out_channels),
        )
        for conv in (self.net[0], self.net[2]):
            nn.init.normal_(conv.weight, std=0.05)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.run(self.net, x)


class _Coupling(nn.Module):
    """What both couplings share: the split at `half` and the network over `cat(x1, features)`,
    which outputs `out_channels`; `features` (optional, `(B, feature_channels, H, W)`) carry
    conditioning information into it (Full-Glow's conditional coupling, C-Glow)."""

    def __init__(
        self, channels: int, hidden_channels: int, feature_channels: int, out_channels: int
    ) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"coupling needs an even number of channels, got {channels}")
        self.half = channels // 2
        self.feature_channels = feature_channels
        self.net = CouplingNetwork(self.half + feature_channels, out_channels, hidden_channels)

    def _network(self, x1: Tensor, features: Tensor | None) -> Tensor:
        if (features is None) != (self.feature_channels == 0):
            raise ValueError(
                f"coupling expects {self.feature_channels} feature channels, got "
                f"{'none' if features is None else features.shape[1]}"
            )
        return self.net(x1 if features is None else torch.cat([x1, features], dim=1))


def _scale(logit: Tensor, floor: float) -> Tensor:
    """`s = floor + (1 - floor) * sigmoid(logit)`, in (floor, 1); `floor = 0` is the paper's."""
    if floor == 0:
        return torch.sigmoid(logit)
    return floor + (1 - floor) * torch.sigmoid(logit)


def _log_scale(logit: Tensor, floor: float) -> Tensor:
    """`log s` of `_scale` (`logsigmoid` for the paper's `floor = 0`, exact for any logit)."""
    if floor == 0:
        return F.logsigmoid(logit)
    return torch.log(_scale(logit, floor))


class AffineCoupling(_Coupling):
    """Affine coupling: `(x1, x2) = split(x)`, `(o1, o2) = NN(cat(x1, features))`,
    `s = sigmoid(o1 + 2)`, `y2 = (x2 + o2) * s`, `y = cat(x1, y2)`, `logdet = sum log s`.

    `scale_floor` (beyond the paper, which has 0) makes it `s = f + (1 - f) sigmoid(o1 + 2)`: the
    inverse then divides by at least `f`, so an unusual latent cannot grow without bound from step
    to step. The zero-initialised last layer makes `t = 0` and `s = sigmoid(2)` (`f = 0`) at the
    start, close to the identity. Shapes: `(B, C, H, W) -> (B, C, H, W)`, `C` even.
    """

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        feature_channels: int = 0,
        scale_floor: float = 0.0,
    ) -> None:
        super().__init__(channels, hidden_channels, feature_channels, channels)
        check_coupling("affine", scale_floor)
        self.scale_floor = scale_floor

    def _scale_shift(self, x1: Tensor, features: Tensor | None) -> tuple[Tensor, Tensor]:
        o1, o2 = self._network(x1, features).chunk(2, dim=1)
        return o1 + 2.0, o2

    def forward(self, x: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x1, x2 = x[:, : self.half], x[:, self.half :]
        logit, shift = self._scale_shift(x1, features)
        y2 = (x2 + shift) * _scale(logit, self.scale_floor)
        logdet = _log_scale(logit, self.scale_floor).flatten(1).sum(dim=1)
        return torch.cat([x1, y2], dim=1), logdet

    def inverse(self, y: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y1, y2 = y[:, : self.half], y[:, self.half :]
        logit, shift = self._scale_shift(y1, features)
        log_scale = _log_scale(logit, self.scale_floor)
        x2 = y2 * torch.exp(-log_scale) - shift
        return torch.cat([y1, x2], dim=1), -log_scale.flatten(1).sum(dim=1)


class AdditiveCoupling(_Coupling):
    """Additive coupling: `(x1, x2) = split(x)`, `t = NN(cat(x1, features))`, `y2 = x2 + t`,
    `logdet = 0`.

    Volume-preserving, so its inverse `x2 = y2 - t` only subtracts: unlike the affine coupling,
    whose inverse divides by `sigmoid(o1 + 2)`, it cannot blow up on latents unlike the training
    data (content transfer, sampling at T = 1). Not the paper's choice (Full-Glow uses affine);
    Glow offers both. Shapes: `(B, C, H, W) -> (B, C, H, W)`, `C` even.
    """

    def __init__(self, channels: int, hidden_channels: int, feature_channels: int = 0) -> None:
        super().__init__(channels, hidden_channels, feature_channels, channels - channels // 2)

    def forward(self, x: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x1, x2 = x[:, : self.half], x[:, self.half :]
        y2 = x2 + self._network(x1, features)
        return torch.cat([x1, y2], dim=1), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y1, y2 = y[:, : self.half], y[:, self.half :]
        x2 = y2 - self._network(y1, features)
        return torch.cat([y1, x2], dim=1), y.new_zeros(y.shape[0])


COUPLINGS = ("affine", "additive")
"""The coupling kinds a model config accepts (`coupling=`); "affine" is the paper's."""


def check_coupling(kind: str, scale_floor: float) -> None:
    """Raise `ValueError` unless `kind` is one of `COUPLINGS` and `scale_floor` is in [0, 1)
    (and 0 for "additive", which has no scale)."""
    if kind not in COUPLINGS:
        raise ValueError(f"coupling must be one of {COUPLINGS}, got {kind!r}")
    if not 0 <= scale_floor < 1:
        raise ValueError(f"scale_floor must be in [0, 1), got {scale_floor}")
    if kind == "additive" and scale_floor:
        raise ValueError(f"scale_floor applies to the affine coupling, got {scale_floor}")


def coupling_name(kind: str, scale_floor: float) -> str:
    """How a report names a coupling: "additive", "affine", "affine, scale floor 0.5"."""
    return f"{kind}, scale floor {scale_floor:g}" if scale_floor else kind


def make_coupling(
    kind: str,
    channels: int,
    hidden_channels: int,
    feature_channels: int = 0,
    scale_floor: float = 0.0,
) -> AffineCoupling | AdditiveCoupling:
    """An `AffineCoupling` ("affine", with `scale_floor`) or an `AdditiveCoupling` ("additive").

    Raises:
        ValueError: see `check_coupling`.
    """
    check_coupling(kind, scale_floor)
    if kind == "additive":
        return AdditiveCoupling(channels, hidden_channels, feature_channels)
    return AffineCoupling(channels, hidden_channels, feature_channels, scale_floor)
