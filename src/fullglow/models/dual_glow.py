"""Dual-Glow (Sun et al. 2019, "Dual-Glow: conditional flow-based generative model for
modality transfer"): a source Glow and a target Glow joined only through the target's priors."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fullglow.conditional.networks import ConditioningConfig, ConditioningConv
from fullglow.config_checks import check_at_least
from fullglow.layers.flow_step import FlowStep
from fullglow.models.conditional_flow import ConditionalFlow, JointPass
from fullglow.models.config import ConditionalFlowConfig
from fullglow.models.glow import Glow
from fullglow.models.levels import LevelPlan, Stream, decode_levels, encode_levels, level_prior
from fullglow.models.multiscale import LevelShape, resize_side
from fullglow.models.saved import accept_wrapped_step_keys


@dataclass(frozen=True)
class DualGlowConfig(ConditionalFlowConfig):
    """Dual-Glow: the shared options, `source_weight` (the lambda of eq. 11) and `prior_channels`,
    the width of the networks that read the source latents."""

    source_weight: float = 1e-4
    prior_channels: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, 0, "source_weight")
        check_at_least(self, 1, "prior_channels")


class DualGlowTargetLevel(nn.Module):
    """One target block: K plain Glow steps, and a prior conditioned on the source latent.

    `prior_net` = `conv3x3(C_src [+ C_side] -> P) ReLU, conv3x3(P -> P) ReLU` (the coupling CN's
    shape, `P = prior_channels`) maps the source latent of the level to features that the split
    (or top) prior's zero-initialised convolution reads.
    """

    def __init__(
        self, shape: LevelShape, source_shape: LevelShape, n_flows: int, config: DualGlowConfig
    ) -> None:
        super().__init__()
        self.shape = shape
        self.steps = nn.ModuleList(
            FlowStep(shape.channels, config.hidden_channels, config.coupling, config.scale_floor)
            for _ in range(n_flows)
        )
        self.prior_net = ConditioningConv(
            source_shape.latent_shape[0] + config.side_channels,
            config.prior_channels,
            ConditioningConfig(coupling_channels=config.prior_channels),
        )
        self.prior = level_prior(shape, config.prior_channels)
        accept_wrapped_step_keys(self)


class DualGlow(ConditionalFlow):
    """Dual-Glow: `log p(x_a) + log p(x_b | x_a)` from two Glows of the same depth.

    The source Glow (`Glow` over `cond`) is unconditional. The target Glow's flow steps are plain
    Glow steps; at every level `l` its prior (split or top) is a Gaussian whose mean and log-std
    are predicted from the target's kept channels and from `prior_net_l(z_a_l [, side_l])`, where
    `z_a_l` is the source's level-`l` latent *before* its own prior standardises it (the channels
    the source splits off at that level, the whole top tensor at the last level), as in the
    reference implementation. Objective: eq. 11, `source_weight * bpd(cond) + bpd(x | cond)`.
    """

    name = "dualglow"
    config_class = DualGlowConfig

    def __init__(self, config: DualGlowConfig) -> None:
        super().__init__(config)
        self.source = Glow(config.source_config())
        self.target_levels = nn.ModuleList(
            DualGlowTargetLevel(shape, source_shape, n, config)
            for shape, source_shape, n in zip(
                self.shapes, self.source.shapes, config.n_flows, strict=True
            )
        )

    def _target_plans(self, source_latents: list[Tensor], side: Tensor | None) -> list[LevelPlan]:
        plans = []
        for level, source_latent in zip(self.target_levels, source_latents, strict=True):
            side_l = resize_side(side, level.shape.size)
            inputs = source_latent if side_l is None else torch.cat([source_latent, side_l], dim=1)
            stream = Stream(level.shape, level.prior, level.prior_net(inputs))
            plans.append(LevelPlan((stream,), list(level.steps)))
        return plans

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
        source = self.source.encoding(cond, self.memory_saving)
        target_plans = self._target_plans(source.raw_latents, side)
        (target,) = encode_levels((x,), target_plans, self.memory_saving)
        return JointPass(source.flow, target.flow)

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
        source = self.source.encoding(cond)
        return decode_levels((latents,), self._target_plans(source.raw_latents, side))[0]

    def source_log_prob(self, cond: Tensor) -> Tensor:
        """`log p(cond)` under the source Glow, `(B,)`."""
        return self.source.log_prob(cond)


DUALGLOW_PRESETS = {
    "paper-256": DualGlowConfig(
        image_size=(256, 256), n_blocks=4, n_flows=16, hidden_channels=512, prior_channels=256
    ),
    "demo": DualGlowConfig(
        image_size=(32, 64), n_blocks=3, n_flows=4, hidden_channels=64, prior_channels=32
    ),
    "tiny": DualGlowConfig(
        image_size=(16, 16), n_blocks=2, n_flows=2, hidden_channels=16, prior_channels=8
    ),
}
"""Dual-Glow presets: `paper-256` as in the paper (4 x 16, as Full-Glow); `demo` and `tiny` match
Full-Glow's CPU presets."""
