"""A fully conditional flow step: conditional actnorm -> conditional 1x1 conv -> conditional coupling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.conditional.actnorm import ConditionalActNorm
from fullglow.conditional.coupling import ConditionalCoupling
from fullglow.conditional.invconv import ConditionalInvConv1x1
from fullglow.conditional.networks import ConditioningConfig
from fullglow.layers.coupling import CouplingReversal
from fullglow.layers.flow_step import GradPairs, StepTrace
from fullglow.layers.reversible import recompute_gradients, trainable, zeros_if_none


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

    def reverse(
        self, y: Tensor, trace: StepTrace, side: Tensor | None = None
    ) -> ConditionalStepReversal:
        """Rebuild the step from its output (memory-saving backward).

        Gradients w.r.t. the trace's tensors are returned for those that require grad (Full-Glow
        passes the source step's rebuilt intermediates as leaves).
        """
        with torch.enable_grad():
            coupling = self.coupling.reverse(y, _with_side(trace.coupling, side))
        with torch.no_grad():
            a, _ = self.invconv.inverse(coupling.input, _with_side(trace.invconv, side))
            x, _ = self.actnorm.inverse(a, _with_side(trace.actnorm, side))
        return ConditionalStepReversal(self, coupling, trace, side, a, x)


class ConditionalStepReversal:
    """A conditional flow step rebuilt from its output: `input` and `gradients`."""

    def __init__(
        self,
        step: ConditionalFlowStep,
        coupling: CouplingReversal,
        trace: StepTrace,
        side: Tensor | None,
        actnorm_output: Tensor,
        x: Tensor,
    ) -> None:
        self.step = step
        self.coupling = coupling
        self.trace = trace
        self.side = side
        self.actnorm_output = actnorm_output
        self.input = x

    def gradients(
        self, grad_output: Tensor, grad_logdet: Tensor
    ) -> tuple[Tensor, GradPairs, StepTrace]:
        """Gradients w.r.t. the input, `(parameter, gradient)` pairs and the trace's tensors."""
        step, trace = self.step, self.trace
        pairs: GradPairs = []
        wrt = trainable(step.coupling)
        grad_w, found = self.coupling.gradients(grad_output, grad_logdet, [*wrt, trace.coupling])
        pairs += zip(wrt, found[:-1], strict=True)
        grad_trace_coupling = zeros_if_none(found[-1], trace.coupling)
        grad_a, grad_trace_invconv = self._layer(
            step.invconv, self.actnorm_output, trace.invconv, grad_w, grad_logdet, pairs
        )
        grad_x, grad_trace_actnorm = self._layer(
            step.actnorm, self.input, trace.actnorm, grad_a, grad_logdet, pairs
        )
        return grad_x, pairs, StepTrace(grad_trace_actnorm, grad_trace_invconv, grad_trace_coupling)

    def _layer(
        self,
        layer: nn.Module,
        x: Tensor,
        cond: Tensor,
        grad_y: Tensor,
        grad_logdet: Tensor,
        pairs: GradPairs,
    ) -> tuple[Tensor, Tensor]:
        wrt = trainable(layer)
        (grad_x,), found = recompute_gradients(
            lambda xs: tuple((t,) for t in layer(xs[0], _with_side(cond, self.side))),
            (x,),
            (grad_y,),
            (grad_logdet,),
            [*wrt, cond],
        )
        pairs += zip(wrt, found[:-1], strict=True)
        return zeros_if_none(grad_x, x), zeros_if_none(found[-1], cond)
