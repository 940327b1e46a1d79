"""C-Glow (Lu & Huang 2019, "Structured output learning with conditional generative flows").

One Glow over the target photo whose every actnorm, 1x1 convolution and coupling is conditioned
on the *raw* condition image through conditioning networks, as are its priors. The Full-Glow
paper (section 5.1) trains two versions at 256x256: v1, 3 blocks x 8 steps with deeper
conditioning networks, and v2, 4 blocks x 16 steps with shallower ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fullglow.conditional.networks import ConditioningConfig
from fullglow.layers.squeeze import squeeze
from fullglow.models.conditional_flow import ConditionalFlow, JointPass, conditional_steps
from fullglow.models.config import ConditionalFlowConfig
from fullglow.models.levels import LevelPlan, Stream, decode_levels, encode_levels, level_prior
from fullglow.models.multiscale import LevelShape, resize_side
from fullglow.models.saved import accept_wrapped_step_keys

# The conditioning networks of the two versions. v1 (deeper): the Full-Glow paper's CN shape,
# three convolutions and four fully connected layers; v2 (shallower): two and two, narrower.
DEEP_CONDITIONING = ConditioningConfig()
SHALLOW_CONDITIONING = ConditioningConfig(
    mlp_conv_channels=(8, 2), mlp_hidden_features=(16,), coupling_channels=32
)


@dataclass(frozen=True)
class CGlowConfig(ConditionalFlowConfig):
    """C-Glow: the shared options plus the shape of its conditioning.

    `feature_layers` / `feature_channels`: depth and width of each level's condition encoder
    (`feature_layers >= 1`: a 1x1 convolution, then 3x3 ones); `conditioning`: the shapes of the
    per-operation conditioning networks reading the encoder's features.
    """

    feature_channels: int = 16
    feature_layers: int = 1
    conditioning: ConditioningConfig = SHALLOW_CONDITIONING

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.feature_layers < 1 or self.feature_channels < 1:
            raise ValueError(
                f"feature_layers and feature_channels must be at least 1, got "
                f"{self.feature_layers} and {self.feature_channels}"
            )


class ConditionEncoder(nn.Sequential):
    """`conv1x1(C_in -> F)`, then `feature_layers - 1` times `ReLU, conv3x3(F -> F)` (padded).

    It reads the raw condition squeezed to the level's size: a 1x1 convolution of
    `squeeze^(l+1)(cond)` is a `2^(l+1)`-strided convolution of the condition image, the
    resizing layer of the original C-Glow. The output is linear (no final ReLU), so the
    conditioning networks that read it get signed inputs. `(B, C_in, H, W) -> (B, F, H, W)`.
    """

    def __init__(self, in_channels: int, feature_channels: int, feature_layers: int) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, feature_channels, 1)]
        for _ in range(feature_layers - 1):
            layers += [nn.ReLU(), nn.Conv2d(feature_channels, feature_channels, 3, padding=1)]
        super().__init__(*layers)


class CGlowLevel(nn.Module):
    """One block: the condition encoder, K conditional flow steps, a conditional prior.

    Every step's three operations read the level's condition features (and side information):
    its chain context is `(features, features, features[, side])`.
    """

    def __init__(
        self, shape: LevelShape, cond_channels: int, n_flows: int, config: CGlowConfig
    ) -> None:
        super().__init__()
        self.shape = shape
        self.encoder = ConditionEncoder(
            cond_channels, config.feature_channels, config.feature_layers
        )
        self.steps = conditional_steps(
            shape, config.feature_channels, n_flows, config, config.conditioning
        )
        self.prior = level_prior(shape, config.feature_channels + config.side_channels)
        accept_wrapped_step_keys(self)


class CGlow(ConditionalFlow):
    """C-Glow: `log p(x | cond)` from one Glow conditioned everywhere on the raw condition.

    Level `l` (after its squeeze, `C_l x H_l x W_l`) reads the condition squeezed as often,
    `c_l = squeeze^(l+1)(cond - 1/2)` `(B, 4^(l+1) C_cond, H_l, W_l)`: every pixel of the raw
    image, at the level's size. A per-level encoder makes features `f_l = E_l(c_l)`; every step's
    conditional actnorm, 1x1 convolution and coupling reads `f_l` (plus side information) through
    its own conditioning network, and the level's prior (split or top) reads `cat(f_l, side_l)`.
    There is no source Glow: the objective is `bpd(x | cond)` alone (`FlowLoss.source_bpd = 0`).
    The registry builds the paper's two versions, `CGlowV1` and `CGlowV2`.
    """

    config_class = CGlowConfig

    def __init__(self, config: CGlowConfig) -> None:
        super().__init__(config)
        self.levels = nn.ModuleList(
            CGlowLevel(shape, config.cond_channels * 4 ** (index + 1), n, config)
            for index, (shape, n) in enumerate(zip(self.shapes, config.n_flows, strict=True))
        )

    def _plans(self, cond: Tensor, side: Tensor | None) -> list[LevelPlan]:
        plans = []
        condition = cond - 0.5
        for level in self.levels:
            condition = squeeze(condition)
            side_l = resize_side(side, level.shape.size)
            features = level.encoder(condition)
            sides = () if side_l is None else (side_l,)
            prior_features = torch.cat((features, *sides), dim=1)
            stream = Stream(level.shape, level.prior, prior_features)
            context = (features, features, features, *sides)
            plans.append(LevelPlan((stream,), list(level.steps), context))
        return plans

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
        (target,) = encode_levels((x,), self._plans(cond, side), self.memory_saving)
        return JointPass(None, target.flow)

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
        return decode_levels((latents,), self._plans(cond, side))[0]


class CGlowV1(CGlow):
    """C-Glow v1 of the Full-Glow paper: a shallower Glow (3 x 8), deeper conditioning networks."""

    name = "cglow-v1"


class CGlowV2(CGlow):
    """C-Glow v2 of the Full-Glow paper: a deeper Glow (4 x 16), shallower conditioning networks."""

    name = "cglow-v2"


CGLOW_V1_PRESETS = {
    "paper-256": CGlowConfig(
        image_size=(256, 256),
        n_blocks=3,
        n_flows=8,
        hidden_channels=512,
        feature_channels=64,
        feature_layers=3,
        conditioning=DEEP_CONDITIONING,
    ),
    "demo": CGlowConfig(
        image_size=(32, 64),
        n_blocks=2,
        n_flows=4,
        hidden_channels=64,
        feature_channels=32,
        feature_layers=3,
        conditioning=DEEP_CONDITIONING,
    ),
    "tiny": CGlowConfig(
        image_size=(16, 16),
        n_blocks=2,
        n_flows=1,
        hidden_channels=16,
        feature_channels=8,
        feature_layers=3,
        conditioning=ConditioningConfig(
            mlp_conv_channels=(8, 8, 8), mlp_hidden_features=(16, 16, 16), coupling_channels=16
        ),
    ),
}
"""C-Glow v1 presets: `paper-256` as in the paper (3 x 8); smaller CPU sizes keep the ratio of a
shallower Glow and deeper conditioning than v2."""

CGLOW_V2_PRESETS = {
    "paper-256": CGlowConfig(
        image_size=(256, 256),
        n_blocks=4,
        n_flows=16,
        hidden_channels=512,
        feature_channels=16,
        feature_layers=1,
        conditioning=SHALLOW_CONDITIONING,
    ),
    "demo": CGlowConfig(
        image_size=(32, 64),
        n_blocks=3,
        n_flows=4,
        hidden_channels=64,
        feature_channels=16,
        feature_layers=1,
        conditioning=SHALLOW_CONDITIONING,
    ),
    "tiny": CGlowConfig(
        image_size=(16, 16),
        n_blocks=2,
        n_flows=2,
        hidden_channels=16,
        feature_channels=4,
        feature_layers=1,
        conditioning=ConditioningConfig(
            mlp_conv_channels=(8, 4), mlp_hidden_features=(8,), coupling_channels=8
        ),
    ),
}
"""C-Glow v2 presets: `paper-256` as in the paper (4 x 16, as Full-Glow and Dual-Glow)."""
