"""Conditioning networks (CN) of Full-Glow (paper section 4, model-spec.md)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from fullglow.config_checks import check_at_least, check_types
from fullglow.layers.nets import ConvNet

# Below this side length a level is too small for the paper's two valid 3x3 convolutions
# (each removes a 1-pixel border); such levels use padded ("same") convolutions instead.
MIN_SIZE_FOR_VALID_CONVS = 8


@dataclass(frozen=True)
class ConditioningConfig:
    """Shapes of the conditioning networks.

    `mlp_conv_channels`: conv1x1 then 3x3 convolutions of the actnorm/1x1-conv CN (paper: 8, 4, 2);
    `mlp_hidden_features`: its hidden fully connected layers (paper: 32, 64, 48);
    `coupling_channels`: hidden width of the coupling CN's two 3x3 convolutions (paper: 128).
    """

    mlp_conv_channels: tuple[int, ...] = (8, 4, 2)
    mlp_hidden_features: tuple[int, ...] = (32, 64, 48)
    coupling_channels: int = 128

    def __post_init__(self) -> None:
        check_types(self)
        check_at_least(self, 1, "mlp_conv_channels", "mlp_hidden_features", "coupling_channels")


class ConditioningMLP(nn.Module):
    """CN for the conditional actnorm and 1x1 convolution: convolutions, flatten, fully connected.

    Paper shape: `conv1x1(C_in -> 8) ReLU, conv3x3(8 -> 4) ReLU, conv3x3(4 -> 2) ReLU, flatten,
    FC -> 32 ReLU -> 64 ReLU -> 48 ReLU -> FC(48 -> out_features)`. The 3x3 convolutions are valid
    (no padding) as in the paper when both sides of the level are at least 8 pixels, padded
    otherwise. The last layer's weight starts at 0; its bias is set by the owning layer, so the
    network first outputs a constant. `(B, C_in, H, W) -> (B, out_features)`; `H, W` are fixed at
    construction (the flatten ties the network to one size, as in the paper).
    """

    def __init__(
        self,
        in_channels: int,
        size: tuple[int, int],
        out_features: int,
        config: ConditioningConfig,
    ) -> None:
        super().__init__()
        self.size = size
        self.in_channels = in_channels
        padding = 0 if min(size) >= MIN_SIZE_FOR_VALID_CONVS else 1
        layers: list[nn.Module] = []
        channels = in_channels
        height, width = size
        for i, out_channels in enumerate(config.mlp_conv_channels):
            kernel = 1 if i == 0 else 3
            pad = 0 if i == 0 else padding
            layers += [nn.Conv2d(channels, out_channels, kernel, padding=pad), nn.ReLU()]
            height, width = height + 2 * pad - kernel + 1, width + 2 * pad - kernel + 1
            channels = out_channels
        layers.append(nn.Flatten())
        features = channels * height * width
        for hidden in config.mlp_hidden_features:
            layers += [nn.Linear(features, hidden), nn.ReLU()]
            features = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(features, out_features)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, cond: Tensor) -> Tensor:
        if tuple(cond.shape[1:]) != (self.in_channels, *self.size):
            raise ValueError(
                f"conditioning network expects inputs of shape {(self.in_channels, *self.size)}, "
                f"got {tuple(cond.shape[1:])}"
            )
        return self.head(self.body(cond))


class ConditioningConv(ConvNet):
    """CN for the conditional coupling: `conv3x3(C_in -> 128) ReLU, conv3x3(128 -> C_out) ReLU`.

    Padded convolutions, so the output has the level's size; computed in channels-last on the CPU
    and optionally in bfloat16 (`fullglow.layers.nets`), returned contiguous in the input's dtype.
    `(B, C_in, H, W) -> (B, C_out, H, W)`.
    """

    mixed_precision = True

    def __init__(self, in_channels: int, out_channels: int, config: ConditioningConfig) -> None:
        super().__init__()
        hidden = config.coupling_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 3, padding=1),
            nn.ReLU(inplace=True),
        )

    def forward(self, cond: Tensor) -> Tensor:
        return self.run(self.net, cond)
