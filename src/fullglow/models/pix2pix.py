"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

The GAN baseline of the Full-Glow paper: a U-Net generator `G(a)` maps the colour label image `a`
(plus optional side information) to a photo; a 70x70 PatchGAN `D(a, b)` judges (label, photo)
pairs patch by patch. Objective (paper, eq. 4):

    G* = arg min_G max_D  L_cGAN(G, D) + lambda * E|b - G(a)|_1,   lambda = 100,

trained with Adam (lr 2e-4, beta1 0.5), alternating one discriminator and one generator step, the
generator maximising `log D(a, G(a))` (the non-saturating loss) and the discriminator's loss halved.
Dropout is the only noise source, kept at test time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fullglow.config_checks import check_types
from fullglow.errors import UserInputError
from fullglow.models.pix2pix_networks import (
    PatchDiscriminator,
    UNetGenerator,
    init_pix2pix_weights,
    patchgan_min_size,
)

GanLossKind = Literal["vanilla", "lsgan"]
Phase = Literal["generator", "discriminator"]


def _twos_in(n: int) -> int:
    """How many times 2 divides `n > 0`."""
    return (n & -n).bit_length() - 1


def _check_size(size: tuple[int, int], depth: int, what: str) -> None:
    """Sizes must halve `depth` times exactly and leave the PatchGAN at least one patch."""
    height, width = size
    if height % 2**depth or width % 2**depth:
        raise UserInputError(
            f"pix2pix {what} {height}x{width} must be divisible by 2**n_downsamplings = {2**depth}"
        )
    smallest = patchgan_min_size()
    if min(height, width) < smallest:
        raise UserInputError(
            f"pix2pix {what} {height}x{width} is smaller than {smallest} pixels, the least the "
            "70x70 PatchGAN accepts"
        )


@dataclass(frozen=True)
class Pix2PixConfig:
    """Sizes and training constants of pix2pix; the defaults are the paper's 256x256 model.

    `n_downsamplings` is the U-Net depth; `None` takes as many levels as 2 divides both sides
    (8 at 256x256, a 1x1 bottleneck, as pix2pix's `unet_256`). `gan_loss` is `"vanilla"`
    (binary cross-entropy on logits, the paper's) or `"lsgan"` (least squares).
    """

    image_size: tuple[int, int] = (256, 256)
    in_channels: int = 3
    cond_channels: int = 3
    side_channels: int = 0
    hidden_channels: int = 64
    n_downsamplings: int | None = None
    dropout: float = 0.5
    l1_weight: float = 100.0
    lr: float = 2e-4
    beta1: float = 0.5
    gan_loss: GanLossKind = "vanilla"

    def __post_init__(self) -> None:
        check_types(self)
        height, width = self.image_size
        if min(height, width) < 1:
            raise UserInputError(f"pix2pix image_size must be positive, got {self.image_size}")
        for name in ("in_channels", "cond_channels", "hidden_channels"):
            if getattr(self, name) < 1:
                raise UserInputError(f"pix2pix {name} must be >= 1, got {getattr(self, name)}")
        if self.side_channels < 0:
            raise UserInputError(f"pix2pix side_channels must be >= 0, got {self.side_channels}")
        if self.n_downsamplings is not None and self.n_downsamplings < 1:
            raise UserInputError(
                f"pix2pix n_downsamplings must be >= 1, got {self.n_downsamplings}"
            )
        if self.depth < 1:
            raise UserInputError(
                f"pix2pix image_size {height}x{width} must be divisible by 2 for the U-Net"
            )
        _check_size(self.image_size, self.depth, "image_size")
        if not 0.0 <= self.dropout < 1.0:
            raise UserInputError(f"pix2pix dropout must be in [0, 1), got {self.dropout}")
        if not (math.isfinite(self.l1_weight) and self.l1_weight >= 0):
            raise UserInputError(f"pix2pix l1_weight must be finite and >= 0, got {self.l1_weight}")
        if not self.lr > 0 or not 0.0 <= self.beta1 < 1.0:
            raise UserInputError(
                f"pix2pix needs lr > 0 and 0 <= beta1 < 1, got lr={self.lr}, beta1={self.beta1}"
            )
        if self.gan_loss not in ("vanilla", "lsgan"):
            raise UserInputError(
                f"pix2pix gan_loss must be 'vanilla' or 'lsgan', got {self.gan_loss!r}"
            )

    @property
    def depth(self) -> int:
        """The U-Net depth: `n_downsamplings`, or the largest one `image_size` allows."""
        if self.n_downsamplings is not None:
            return self.n_downsamplings
        return min(_twos_in(side) for side in self.image_size)


PRESETS: dict[str, Pix2PixConfig] = {
    "paper-256": Pix2PixConfig(),
    "tiny": Pix2PixConfig(image_size=(32, 32), hidden_channels=8),
    "demo": Pix2PixConfig(image_size=(64, 128), hidden_channels=16),
}
"""`paper-256`: the paper's 256x256 model (G 54.4M, D 2.8M parameters); `tiny`: for CPU tests;
`demo`: 64x128, the built-in dataset's size."""


@dataclass(frozen=True)
class Pix2PixLosses:
    """Scalar losses of one phase.

    Generator phase: `total = gan + l1_weight * l1`. Discriminator phase: `total = gan` = the
    discriminator's loss `(L(D(a, b), real) + L(D(a, G(a)), fake)) / 2` and `l1 = 0`.
    """

    total: Tensor
    gan: Tensor
    l1: Tensor


def gan_loss(logits: Tensor, real: bool, kind: GanLossKind = "vanilla") -> Tensor:
    """Mean adversarial loss of patch `logits` against the label real (1) or fake (0).

    `vanilla`: binary cross-entropy on logits, `-mean(y log sigma(l) + (1-y) log(1-sigma(l)))`;
    `lsgan`: `mean((l - y)^2)`.
    """
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class Pix2Pix(nn.Module):
    """pix2pix as a fullglow model: U-Net generator, 70x70 PatchGAN, GAN + 100 * L1.

    Images `x` (target photo, `(B, in_channels, H, W)`), `cond` (colour labels,
    `(B, cond_channels, H, W)`) and `side` (`(B, side_channels, H, W)`, only when
    `side_channels > 0`) lie in [0, 1]; inside they are mapped to [-1, 1], the generator's `tanh`
    range. The source `a = cat(cond, side)` feeds the generator; the discriminator sees
    `cat(a, photo)`. The L1 term is measured in that [-1, 1] range, as pix2pix, so that
    `l1_weight = 100` keeps the paper's balance. `H` and `W` need not equal `config.image_size`,
    but must be divisible by `2**config.depth` and at least 24.

    Training alternates `forward(..., phase="discriminator")` (the fake computed without
    gradients) and `forward(..., phase="generator")`, each with its own Adam over
    `parameter_groups()`; one call per phase lets DistributedDataParallel wrap the whole model.
    The generator phase also leaves gradients on the discriminator's parameters: zero them before
    the discriminator's step.
    """

    has_likelihood = False
    name = "pix2pix"
    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig) -> None:
        super().__init__()
        self.config = config
        source_channels = config.cond_channels + config.side_channels
        self.generator = UNetGenerator(
            source_channels,
            config.in_channels,
            config.hidden_channels,
            config.depth,
            config.dropout,
        )
        self.discriminator = PatchDiscriminator(
            source_channels + config.in_channels, config.hidden_channels
        )
        init_pix2pix_weights(self)

    def forward(
        self, x: Tensor, cond: Tensor, side: Tensor | None = None, *, phase: Phase
    ) -> Pix2PixLosses:
        """The losses of one training `phase`, `"generator"` or `"discriminator"`."""
        source = self._source(cond, side, reference=x)
        target = x * 2.0 - 1.0
        kind = self.config.gan_loss
        if phase == "discriminator":
            with torch.no_grad():
                fake = self.generator(source)
            loss_fake = gan_loss(self.discriminator(torch.cat([source, fake], dim=1)), False, kind)
            loss_real = gan_loss(self.discriminator(torch.cat([source, target], dim=1)), True, kind)
            loss = 0.5 * (loss_fake + loss_real)
            return Pix2PixLosses(total=loss, gan=loss, l1=loss.new_zeros(()))
        if phase == "generator":
            fake = self.generator(source)
            adversarial = gan_loss(self.discriminator(torch.cat([source, fake], dim=1)), True, kind)
            l1 = (fake - target).abs().mean()
            total = adversarial + self.config.l1_weight * l1
            return Pix2PixLosses(total=total, gan=adversarial, l1=l1)
        raise UserInputError(f"pix2pix phase must be 'generator' or 'discriminator', got {phase!r}")

    def loss(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        """The generator's objective `L_GAN + l1_weight * L1` (a scalar)."""
        return self(x, cond, side, phase="generator").total

    @torch.no_grad()
    def sample(
        self,
        cond: Tensor,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
        side: Tensor | None = None,
    ) -> Tensor:
        """Photos `(B, in_channels, H, W)` in [0, 1] for the labels `cond`, as pix2pix's inference.

        Dropout stays on as the noise source, its masks drawn from `generator` (any device) when
        given, so a seed reproduces a sample; each image is normalised by its own statistics
        (batch norm on a batch of one, pix2pix's test-time norm), so a sample does not depend on
        its batch. Neither changes the module's train/eval mode or running statistics.
        `temperature` is ignored: a GAN has no latent temperature; the parameter exists to share
        the flows' signature.
        """
        source = self._source(cond, side, reference=None)
        fake = self.generator(source, test_time=True, noise=generator)
        return (fake + 1.0) / 2.0

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The two optimisers' parameters: `{"generator": [...], "discriminator": [...]}`."""
        return {
            "generator": list(self.generator.parameters()),
            "discriminator": list(self.discriminator.parameters()),
        }

    def _source(self, cond: Tensor, side: Tensor | None, reference: Tensor | None) -> Tensor:
        """Validate the inputs and return `a = cat(cond, side)` mapped to [-1, 1]."""
        config = self.config
        if config.side_channels == 0 and side is not None:
            raise UserInputError("pix2pix got side information but was built with side_channels=0")
        if config.side_channels > 0 and side is None:
            raise UserInputError(
                f"pix2pix was built with side_channels={config.side_channels} "
                "but got no side tensor"
            )
        named = [("cond", cond, config.cond_channels)]
        if side is not None:
            named.append(("side", side, config.side_channels))
        if reference is not None:
            named.append(("x", reference, config.in_channels))
        _check_images(named, config.depth)
        parts = [cond] if side is None else [cond, side]
        return torch.cat(parts, dim=1) * 2.0 - 1.0


def _check_images(named: list[tuple[str, Tensor, int]], depth: int) -> None:
    """Shapes `(B, C, H, W)` with the expected `C`, one `B, H, W` for all, finite values."""
    first_name, first, _ = named[0]
    for name, tensor, channels in named:
        if tensor.dim() != 4 or tensor.shape[1] != channels:
            raise UserInputError(
                f"pix2pix {name} must have shape (B, {channels}, H, W), got {tuple(tensor.shape)}"
            )
        if tensor.shape[0] != first.shape[0] or tensor.shape[2:] != first.shape[2:]:
            raise UserInputError(
                f"pix2pix {name} has batch/size {tuple(tensor.shape[:1] + tensor.shape[2:])}, "
                f"expected {tuple(first.shape[:1] + first.shape[2:])} as {first_name}"
            )
        if not torch.isfinite(tensor).all():
            raise UserInputError(f"pix2pix {name} contains NaN or infinite values")
    _check_size((first.shape[2], first.shape[3]), depth, "input size")
