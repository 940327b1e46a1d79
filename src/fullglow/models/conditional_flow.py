"""The API every conditional flow shares (`p(x | cond)` with exact likelihood), on one base class.

A subclass wires the shared parts (`fullglow.models.levels`) into `_encode` (images to a
`JointPass`: the target's latents and log-det, and the source Glow's when it has one) and
`_decode` (target latents back to images); the base class adds input checks, the eq. 11
objective and sampling, and inherits initialisation and saving from `FlowModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fullglow.conditional.flow_step import ConditionalFlowStep
from fullglow.conditional.networks import ConditioningConfig
from fullglow.likelihood import bits_per_dim
from fullglow.models.config import ConditionalFlowConfig
from fullglow.models.flow_model import FlowModel
from fullglow.models.levels import FlowPass
from fullglow.models.multiscale import LevelShape, check_image, num_dims


def conditional_steps(
    shape: LevelShape,
    cond_channels: int,
    n_flows: int,
    config: ConditionalFlowConfig,
    conditioning: ConditioningConfig,
) -> nn.ModuleList:
    """A level's `n_flows` conditional flow steps, each operation reading `cond_channels`
    condition channels plus the side information through CNs shaped by `conditioning`."""
    return nn.ModuleList(
        ConditionalFlowStep(
            shape.channels,
            cond_channels,
            shape.size,
            config.hidden_channels,
            conditioning,
            config.side_channels,
            config.coupling,
            config.scale_floor,
        )
        for _ in range(n_flows)
    )


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


class ConditionalFlow(FlowModel):
    """`log p(x | cond[, side])` with exact encode/decode; the base of Full-Glow and the flow baselines.

    Images (`x` the target photo `(B, in_channels, H, W)`, `cond` the colour label image
    `(B, cond_channels, H, W)`, `side` `(B, side_channels, H, W)` when `side_channels > 0`) are in
    [0, 1]; the caller dequantizes (`fullglow.dequantize`). Every result is per sample.
    `memory_saving = True` trains with invertible backprop (activations recomputed, not stored).
    """

    config: ConditionalFlowConfig

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
        raise NotImplementedError

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
        raise NotImplementedError

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
        self._initialize(x, cond, side)

    def encode(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> list[Tensor]:
        """Standardised target latents `eps`, one per level: `log_prob = sum log N(eps) + logdet`."""
        self._check(x, cond, side)
        return self._encode(x, cond, side).target.latents

    def decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None = None) -> Tensor:
        """Exact inverse of `encode` given the same condition: images `(B, in_channels, H, W)`."""
        self._check(None, cond, side)
        self._check_latents(latents)
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
        latents = self._random_latents(cond.shape[0], temperature, generator, cond)
        return self.decode(latents, cond, side)
