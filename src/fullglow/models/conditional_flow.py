"""The API every conditional flow shares (`p(x | cond)` with exact likelihood), on one base class.

A subclass supplies `_encode` (images to a `JointPass`: the target's latents and log-det, and the
source Glow's when it has one) and `_decode` (target latents back to images); the base class adds
input checks, the eq. 11 objective, sampling, initialisation and saving, identically for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import torch
from torch import Tensor, nn

from fullglow.likelihood import bits_per_dim
from fullglow.models.config import ConditionalFlowConfig
from fullglow.models.levels import FlowPass
from fullglow.models.multiscale import check_image, level_shapes, num_dims

FlowT = TypeVar("FlowT", bound="ConditionalFlow")


@dataclass(frozen=True)
class FlowLoss:
    """Eq. 11 in bits per dimension: `total = lambda * source_bpd + target_bpd` (batch means)."""

    total: Tensor
    source_bpd: Tensor
    target_bpd: Tensor


@dataclass(frozen=True)
class JointPass:
    """An encoding: the target's latents and log-det, and the source Glow's (`None` without one)."""

    source: FlowPass | None
    target: FlowPass


class ConditionalFlow(nn.Module):
    """`log p(x | cond[, side])` with exact encode/decode; the base of Full-Glow and the flow baselines.

    Images (`x` the target photo `(B, in_channels, H, W)`, `cond` the colour label image
    `(B, cond_channels, H, W)`, `side` `(B, side_channels, H, W)` when `side_channels > 0`) are in
    [0, 1]; the caller dequantizes (`fullglow.dequantize`). Every result is per sample.
    `memory_saving = True` trains with invertible backprop (activations recomputed, not stored).
    """

    name: ClassVar[str]
    has_likelihood = True

    def __init__(self, config: ConditionalFlowConfig) -> None:
        super().__init__()
        self.config = config
        self.shapes = level_shapes(config.image_size, config.in_channels, config.n_blocks)
        self.memory_saving = False

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
        raise NotImplementedError

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
        raise NotImplementedError

    @property
    def num_dims(self) -> int:
        return num_dims(self.config.in_channels, self.config.image_size)

    def latent_shapes(self) -> list[tuple[int, int, int]]:
        return [shape.latent_shape for shape in self.shapes]

    def _check(self, x: Tensor | None, cond: Tensor, side: Tensor | None) -> None:
        cfg = self.config
        check_image("cond", cond, cfg.cond_channels, cfg.image_size)
        if x is not None:
            check_image("x", x, cfg.in_channels, cfg.image_size, batch=cond.shape[0])
        if (side is None) != (cfg.side_channels == 0):
            raise ValueError(
                f"side must be {'given' if cfg.side_channels else 'None'} "
                f"(side_channels = {cfg.side_channels})"
            )
        if side is not None:
            check_image("side", side, cfg.side_channels, cfg.image_size, batch=cond.shape[0])

    def log_prob(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        """`log p(x | cond)` in nats, continuous density, `(B,)`."""
        self._check(x, cond, side)
        return self._encode(x, cond, side).target.log_prob()

    def forward(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> FlowLoss:
        """The training objective in bits per dim, batch means, as a `FlowLoss`.

        With a source Glow (Dual-Glow): `lambda * bpd(cond) + bpd(x | cond)` (eq. 11, `lambda` =
        `config.source_weight`). Without one (C-Glow): `bpd(x | cond)`, and `source_bpd` is 0.
        """
        self._check(x, cond, side)
        joint = self._encode(x, cond, side)
        n_bits = self.config.n_bits
        target_bpd = bits_per_dim(joint.target.log_prob(), self.num_dims, n_bits).mean()
        if joint.source is None:
            return FlowLoss(target_bpd, target_bpd.new_zeros(()), target_bpd)
        source_dims = num_dims(self.config.cond_channels, self.config.image_size)
        source_bpd = bits_per_dim(joint.source.log_prob(), source_dims, n_bits).mean()
        return FlowLoss(self.config.source_weight * source_bpd + target_bpd, source_bpd, target_bpd)

    def loss(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        """`forward(...).total`: the scalar to minimise."""
        return self(x, cond, side).total

    def initialize(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> None:
        """Data-dependent initialisation of every (conditional) actnorm from one batch."""
        self._check(x, cond, side)
        with torch.no_grad():
            was_training = self.training
            self.train()
            self._encode(x, cond, side)
            self.train(was_training)

    def encode(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> list[Tensor]:
        """Standardised target latents `eps`, one per level: `log_prob = sum log N(eps) + logdet`."""
        self._check(x, cond, side)
        return self._encode(x, cond, side).target.latents

    def decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None = None) -> Tensor:
        """Exact inverse of `encode` given the same condition: images `(B, in_channels, H, W)`."""
        self._check(None, cond, side)
        expected = self.latent_shapes()
        actual = [tuple(z.shape[1:]) for z in latents]
        if actual != expected:
            raise ValueError(f"latents must have shapes {expected} (after the batch), got {actual}")
        if any(z.shape[0] != cond.shape[0] for z in latents):
            raise ValueError(
                f"latents have batch sizes {[z.shape[0] for z in latents]}, cond has {cond.shape[0]}"
            )
        return self._decode(latents, cond, side)

    def sample(
        self,
        cond: Tensor,
        temperature: float = 0.8,
        generator: torch.Generator | None = None,
        side: Tensor | None = None,
    ) -> Tensor:
        """`decode([T * randn for each latent], cond)`: photos for the labels in `cond`."""
        latents = [
            temperature
            * torch.randn(
                cond.shape[0], *s, generator=generator, device=cond.device, dtype=cond.dtype
            )
            for s in self.latent_shapes()
        ]
        return self.decode(latents, cond, side)

    def save(self, directory: str | Path) -> None:
        from fullglow.models.io import save_model

        save_model(self, directory)

    @classmethod
    def load(
        cls: type[FlowT], directory: str | Path, map_location: str | torch.device = "cpu"
    ) -> FlowT:
        from fullglow.models.io import load_model

        return load_model(directory, map_location, expected=cls)
