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
    `coupling_channels`: hidden width of the coupling CN's two 3x3 convolutions (paper: 128);
    `pool_size`: None (the paper's) flattens the whole feature map into the first fully connected
    layer, which ties the network to one image size; `(h, w)` average-pools it to an `h x w` grid
    first (`adaptive_avg_pool2d`), so the same weights run at any size ("pooled conditioning").
    """

    mlp_conv_channels: tuple[int, ...] = (8, 4, 2)
    mlp_hidden_features: tuple[int, ...] = (32, 64, 48)
    coupling_channels: int = 128
    pool_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.pool_size, list):  # read back from JSON
            object.__setattr__(self, "pool_size", tuple(self.pool_size))
        check_types(self)
        check_at_least(self, 1, "mlp_conv_channels", "mlp_hidden_features", "coupling_channels")
        if self.pool_size is not None and (len(self.pool_size) != 2 or min(self.pool_size) < 1):
            raise ValueError(
                f"pool_size must be None or two positive sides (h, w), got {self.pool_size}"
            )


class ConditioningMLP(nn.Module):
    """CN for the conditional actnorm and 1x1 convolution: convolutions, flatten, fully connected.

    Paper shape: `conv1x1(C_in -> 8) ReLU, conv3x3(8 -> 4) ReLU, conv3x3(4 -> 2) ReLU, flatten,
    FC -> 32 ReLU -> 64 ReLU -> 48 ReLU -> FC(48 -> out_features)`. The 3x3 convolutions are valid
    (no padding) as in the paper when both sides of the level are at least 8 pixels, padded
    otherwise. The last layer's weight starts at 0; its bias is set by the owning layer, so the
    network first outputs a constant. `(B, C_in, H, W) -> (B, out_features)`; `H, W` are fixed at
    construction (the flatten ties the network to one size, as in the paper).

    With `config.pool_size = (h, w)` the 3x3 convolutions are always padded and their output is
    average-pooled to `h x w` before the flatten: the first FC then has `2 h w` inputs whatever
    the level's size, and the network accepts any `H, W` (`size` is then unused).
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
        self.pooled = config.pool_size is not None
        padding = 0 if min(size) >= MIN_SIZE_FOR_VALID_CONVS and not self.pooled else 1
        layers: list[nn.Module] = []
        channels = in_channels
        height, width = size
        for i, out_channels in enumerate(config.mlp_conv_channels):
            kernel = 1 if i == 0 else 3
            pad = 0 if i == 0 else padding
            layers += [nn.Conv2d(channels, out_channels, kernel, padding=pad), nn.ReLU()]
            height, width = height + 2 * pad - kernel + 1, width + 2 * pad - kernel + 1
            channels = out_channels
        if config.pool_size is not None:
            layers.append(nn.AdaptiveAvgPool2d(config.pool_size))
            height, width = config.pool_size
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
        shape = tuple(cond.shape[1:])
        if self.pooled:
            fits = cond.dim() == 4 and shape[0] == self.in_channels
        else:
            fits = shape == (self.in_channels, *self.size)
        if not fits:
            wanted = (
                f"({self.in_channels}, H, W)" if self.pooled else (self.in_channels, *self.size)
            )
            raise ValueError(f"conditioning network expects inputs of shape {wanted}, got {shape}")
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
