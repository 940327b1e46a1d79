"""pix2pix's networks: the U-Net generator and the PatchGAN discriminator (Isola et al. 2017).

Both follow the authors' PyTorch code (`networks.py` of pytorch-CycleGAN-and-pix2pix): 4x4
convolutions of stride 2, batch norm (no bias on the convolutions it follows), LeakyReLU(0.2) in the
encoder and discriminator, ReLU in the decoder, `N(0, 0.02)` weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LEAKY_SLOPE = 0.2
"""Negative slope of the LeakyReLUs of the encoder and of the discriminator."""

DISCRIMINATOR_LAYERS = 3
"""Stride-2 convolutions of the PatchGAN; 3 gives the 70x70 receptive field of the paper."""


def patchgan_min_size(num_layers: int = DISCRIMINATOR_LAYERS) -> int:
    """Smallest input side leaving the PatchGAN one patch: `floor(n / 2**num_layers) - 2 >= 1`."""
    return 3 * 2**num_layers


def init_pix2pix_weights(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix's initialisation: conv weights `N(0, std)`, biases 0, norm scales `N(1, std)`."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)


def _normalize(h: Tensor, norm: nn.BatchNorm2d, per_sample: bool) -> Tensor:
    """Batch norm, or with `per_sample` each image normalised by its own statistics.

    The per-sample form is batch norm on a batch of one image (instance norm with the batch norm's
    affine parameters), which is how pix2pix normalises at test time; it reads and writes no running
    statistics, so a sample never depends on the other images of its batch.
    """
    if per_sample:
        return F.instance_norm(h, weight=norm.weight, bias=norm.bias, eps=norm.eps)
    return norm(h)


def _dropout(h: Tensor, p: float, noise: torch.Generator | None) -> Tensor:
    """Inverted dropout; masks drawn from `noise` (on its own device) when given, else globally."""
    if noise is None:
        return F.dropout(h, p, training=True)
    keep = torch.rand(h.shape, generator=noise, device=noise.device) >= p
    return h * keep.to(device=h.device, dtype=h.dtype) / (1.0 - p)


class _DownBlock(nn.Module):
    """Encoder level `[LeakyReLU] -> conv4x4/2 -> [norm]`: `(B, C, H, W) -> (B, C', H/2, W/2)`."""

    def __init__(
        self, in_channels: int, out_channels: int, *, outermost: bool, innermost: bool
    ) -> None:
        super().__init__()
        self.activate = not outermost
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        # The innermost level has no norm: at a 1x1 bottleneck with one image, batch norm would
        # normalise a single value per channel (and fails in training mode).
        self.norm = None if outermost or innermost else nn.BatchNorm2d(out_channels)

    def forward(self, h: Tensor, per_sample: bool) -> Tensor:
        if self.activate:
            h = F.leaky_relu(h, LEAKY_SLOPE)
        h = self.conv(h)
        return h if self.norm is None else _normalize(h, self.norm, per_sample)


class _UpBlock(nn.Module):
    """Decoder level `ReLU -> transposed conv4x4/2 -> norm [-> dropout]` (`tanh` at the top)."""

    def __init__(
        self, in_channels: int, out_channels: int, *, outermost: bool, dropout: float
    ) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(
            in_channels, out_channels, 4, stride=2, padding=1, bias=outermost
        )
        self.norm = None if outermost else nn.BatchNorm2d(out_channels)
        self.dropout = dropout

    def forward(
        self, h: Tensor, per_sample: bool, noisy: bool, noise: torch.Generator | None
    ) -> Tensor:
        h = self.conv(F.relu(h))
        if self.norm is None:
            return torch.tanh(h)
        h = _normalize(h, self.norm, per_sample)
        if noisy and self.dropout > 0:
            h = _dropout(h, self.dropout, noise)
        return h


class UNetGenerator(nn.Module):
    """pix2pix's U-Net: `depth` stride-2 encoder levels mirrored by a decoder with skip connections.

    Channels at encoder level `i` (0 = outermost): `hidden * min(2**i, 8)`, so 8 levels at
    256x256 give `64, 128, 256, 512, 512, 512, 512, 512` down to a 1x1 bottleneck (`unet_256`).
    Decoder level `i` reads `cat(e_i, d_{i+1})` (the innermost reads `e_{depth-1}` alone) and the
    top one ends in `tanh`, so the output lies in `(-1, 1)`. Dropout follows the norm of the three
    decoder levels just outside the innermost one (levels 4-6 of `unet_256`, as pix2pix), never on
    the top level; with `depth <= 2` there is none.

    Input `(B, in_channels, H, W)`, output `(B, out_channels, H, W)`; `H`, `W` divisible by
    `2**depth`.
    """

    def __init__(
        self, in_channels: int, out_channels: int, hidden_channels: int, depth: int, dropout: float
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"a U-Net needs at least one level, got depth={depth}")
        self.depth = depth
        widths = [hidden_channels * min(2**level, 8) for level in range(depth)]
        inputs = [in_channels, *widths[:-1]]
        self.down = nn.ModuleList(
            _DownBlock(
                inputs[level], widths[level], outermost=level == 0, innermost=level == depth - 1
            )
            for level in range(depth)
        )
        self.up = nn.ModuleList(
            _UpBlock(
                widths[level] * (1 if level == depth - 1 else 2),
                out_channels if level == 0 else widths[level - 1],
                outermost=level == 0,
                dropout=dropout if max(1, depth - 4) <= level <= depth - 2 else 0.0,
            )
            for level in range(depth)
        )

    def forward(
        self, source: Tensor, *, test_time: bool = False, noise: torch.Generator | None = None
    ) -> Tensor:
        """Map `source` in [-1, 1] to an image in (-1, 1).

        In training mode: batch norm and dropout from the global RNG. With `test_time` (pix2pix's
        inference): dropout stays on, masks drawn from `noise` when given, and each image is
        normalised by its own statistics. In eval mode without `test_time`: running statistics, no
        dropout (PyTorch's usual meaning of eval).
        """
        noisy = self.training or test_time
        skips = []
        h = source
        for block in self.down:
            h = block(h, test_time)
            skips.append(h)
        h = self.up[-1](skips[-1], test_time, noisy, noise)
        for level in range(self.depth - 2, -1, -1):
            h = self.up[level](torch.cat([skips[level], h], dim=1), test_time, noisy, noise)
        return h


class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake logit per overlapping input patch (70x70 with the default 3 layers).

    `conv4x4/2 (hidden) -> LReLU`, then `num_layers - 1` times `conv4x4/2 -> BN -> LReLU` doubling
    the channels (at most `8 * hidden`), then `conv4x4/1 (8 * hidden at most) -> BN -> LReLU` and
    `conv4x4/1 -> 1`. Input `(B, in_channels, H, W)`, output logits
    `(B, 1, H / 2**num_layers - 2, W / 2**num_layers - 2)` (floors taken at each stride-2 layer).
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, num_layers: int = DISCRIMINATOR_LAYERS
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, hidden_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
        ]
        width = hidden_channels
        for layer in range(1, num_layers + 1):
            new_width = hidden_channels * min(2**layer, 8)
            stride = 2 if layer < num_layers else 1
            layers += [
                nn.Conv2d(width, new_width, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(new_width),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            width = new_width
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)
        self.num_layers = num_layers

    def receptive_field(self) -> tuple[int, int]:
        """Receptive field `(height, width)` of one output logit, walked over the convolutions.

        `r = 1 + sum_l (k_l - 1) * prod_{m < l} s_m` for kernels `k_l` and strides `s_l`.
        """
        sizes = []
        for axis in range(2):
            field, jump = 1, 1
            for layer in self.layers:
                if isinstance(layer, nn.Conv2d):
                    field += (layer.kernel_size[axis] - 1) * jump
                    jump *= layer.stride[axis]
            sizes.append(field)
        return sizes[0], sizes[1]

    def forward(self, pair: Tensor) -> Tensor:
        """Logits `(B, 1, h, w)` for `pair = cat(source, image)` in [-1, 1]."""
        return self.layers(pair)
