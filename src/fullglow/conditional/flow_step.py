"""A fully conditional flow step: conditional actnorm -> conditional 1x1 conv -> conditional coupling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.conditional.actnorm import ConditionalActNorm
from fullglow.conditional.coupling import ConditionalCoupling
from fullglow.conditional.invconv import ConditionalInvConv1x1
from fullglow.conditional.networks import ConditioningConfig
from fullglow.layers.flow_step import StepTrace


def _with_side(cond: Tensor, side: Tensor | None) -> Tensor:
    return cond if side is None else torch.cat([cond, side], dim=1)


class ConditionalFlowStep(nn.Module):
    """Each operation reads its own condition from a `StepTrace` (plus side information).

    In Full-Glow, the trace holds the outputs of the same three operations of the source Glow's step
    at the same position; side information (e.g. an instance-boundary map resized to the level) is
    concatenated to every conditioning network's input.
    Shapes: `x (B, C, H, W)`; trace entries `(B, C_cond, H, W)`; `side (B, C_side, H, W)`.
    """

    def __init__(
        self,
        channels: int,
        cond_channels: int,
        size: tuple[int, int],
        hidden_channels: int,
        config: ConditioningConfig,
        side_channels: int = 0,
    ) -> None:
        super().__init__()
        cn_in = cond_channels + side_channels
        self.actnorm = ConditionalActNorm(channels, cn_in, size, config)
        self.invconv = ConditionalInvConv1x1(channels, cn_in, size, config)
        self.coupling = ConditionalCoupling(channels, cn_in, hidden_channels, config)

    def forward(
        self, x: Tensor, trace: StepTrace, side: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        a, logdet_a = self.actnorm(x, _with_side(trace.actnorm, side))
        w, logdet_w = self.invconv(a, _with_side(trace.invconv, side))
        y, logdet_c = self.coupling(w, _with_side(trace.coupling, side))
        return y, logdet_a + logdet_w + logdet_c

    def inverse(
        self, y: Tensor, trace: StepTrace, side: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        w, logdet_c = self.coupling.inverse(y, _with_side(trace.coupling, side))
        a, logdet_w = self.invconv.inverse(w, _with_side(trace.invconv, side))
        x, logdet_a = self.actnorm.inverse(a, _with_side(trace.actnorm, side))
        return x, logdet_a + logdet_w + logdet_c
