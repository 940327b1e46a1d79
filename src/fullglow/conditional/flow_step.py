"""A fully conditional flow step: conditional actnorm -> conditional 1x1 conv -> conditional coupling."""

from __future__ import annotations

import torch
from torch import Tensor

from fullglow.conditional.actnorm import ConditionalActNorm
from fullglow.conditional.coupling import ConditionalCoupling
from fullglow.conditional.invconv import ConditionalInvConv1x1
from fullglow.conditional.networks import ConditioningConfig
from fullglow.layers.flow_step import StepTrace
from fullglow.layers.reversible import ChainStep, States


def _with_side(cond: Tensor, side: Tensor | None) -> Tensor:
    return cond if side is None else torch.cat([cond, side], dim=1)


class ConditionalFlowStep(ChainStep):
    """Each operation reads its own condition from a `StepTrace` (plus side information).

    In Full-Glow, the trace holds the outputs of the same three operations of the source Glow's step
    at the same position; side information (e.g. an instance-boundary map resized to the level) is
    concatenated to every conditioning network's input.
    Shapes: `x (B, C, H, W)`; trace entries `(B, C_cond, H, W)`; `side (B, C_side, H, W)`.

    As a one-stream `ChainStep` its context is the trace and the optional side information:
    `(actnorm_cond, invconv_cond, coupling_cond)` or `(actnorm_cond, invconv_cond,
    coupling_cond, side)`.
    """

    def __init__(
        self,
        channels: int,
        cond_channels: int,
        size: tuple[int, int],
        hidden_channels: int,
        config: ConditioningConfig,
        side_channels: int = 0,
        coupling: str = "affine",
        scale_floor: float = 0.0,
    ) -> None:
        super().__init__()
        cn_in = cond_channels + side_channels
        self.actnorm = ConditionalActNorm(channels, cn_in, size, config)
        self.invconv = ConditionalInvConv1x1(channels, cn_in, size, config)
        self.coupling = ConditionalCoupling(
            channels, cn_in, hidden_channels, config, coupling, scale_floor
        )

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

    def forward_chain(self, states: States, context: States) -> tuple[States, States]:
        y, logdet = self(states[0], *_trace_and_side(context))
        return (y,), (logdet,)

    def inverse_chain(self, states: States, context: States) -> States:
        return (self.inverse(states[0], *_trace_and_side(context))[0],)


def _trace_and_side(context: States) -> tuple[StepTrace, Tensor | None]:
    return StepTrace(*context[:3]), context[3] if len(context) > 3 else None
