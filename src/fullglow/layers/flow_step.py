"""One Glow flow step: actnorm -> invertible 1x1 convolution -> coupling (affine, or additive)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fullglow.layers.actnorm import ActNorm
from fullglow.layers.coupling import CouplingReversal, make_coupling
from fullglow.layers.invconv import InvConv1x1
from fullglow.layers.reversible import recompute_gradients, trainable, zeros_if_none


@dataclass(frozen=True)
class StepTrace:
    """The outputs of the three operations of one flow step, each `(B, C, H, W)`.

    Full-Glow's target step `(l, k)` is conditioned on the trace of source step `(l, k)`; C-Glow
    fills all three with the resized condition image.
    """

    actnorm: Tensor
    invconv: Tensor
    coupling: Tensor


class FlowStep(nn.Module):
    """`y = coupling(invconv(actnorm(x)))`; log-dets add. Shapes: `(B, C, H, W)` both ways."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        coupling: str = "affine",
        scale_floor: float = 0.0,
    ) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv1x1(channels)
        self.coupling = make_coupling(coupling, channels, hidden_channels, scale_floor=scale_floor)

    def forward_traced(self, x: Tensor) -> tuple[Tensor, Tensor, StepTrace]:
        """Forward pass that also returns the intermediate outputs for a conditional twin."""
        a, logdet_a = self.actnorm(x)
        w, logdet_w = self.invconv(a)
        y, logdet_c = self.coupling(w)
        return y, logdet_a + logdet_w + logdet_c, StepTrace(a, w, y)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, logdet, _ = self.forward_traced(x)
        return y, logdet

    def inverse_traced(self, y: Tensor) -> tuple[Tensor, Tensor, StepTrace]:
        """Inverse pass that also returns the trace: its intermediates are the forward's."""
        w, logdet_c = self.coupling.inverse(y)
        a, logdet_w = self.invconv.inverse(w)
        x, logdet_a = self.actnorm.inverse(a)
        return x, logdet_a + logdet_w + logdet_c, StepTrace(a, w, y)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        x, logdet, _ = self.inverse_traced(y)
        return x, logdet

    def reverse(self, y: Tensor) -> FlowStepReversal:
        """Rebuild the step from its output for the memory-saving backward pass."""
        coupling = self.coupling.reverse(y)
        with torch.no_grad():
            a, _ = self.invconv.inverse(coupling.input)
            x, _ = self.actnorm.inverse(a)
        return FlowStepReversal(self, coupling, StepTrace(a, coupling.input, y.detach()), x)


GradPairs = list[tuple[Tensor, Tensor | None]]


class FlowStepReversal:
    """A flow step rebuilt from its output: `input`, the `trace` of intermediates, and `gradients`."""

    def __init__(
        self, step: FlowStep, coupling: CouplingReversal, trace: StepTrace, x: Tensor
    ) -> None:
        self.step = step
        self.coupling = coupling
        self.trace = trace
        self.input = x

    def gradients(
        self, grad_output: Tensor, grad_logdet: Tensor, trace_grads: StepTrace | None = None
    ) -> tuple[Tensor, GradPairs]:
        """Gradient w.r.t. the input and `(parameter, gradient)` pairs.

        `trace_grads` adds gradients that reach the intermediates from elsewhere (a conditional
        twin that read this step's trace, as Full-Glow's target step does).
        """
        extra = trace_grads or StepTrace(*(torch.zeros_like(t) for t in _fields(self.trace)))
        pairs: GradPairs = []
        wrt = trainable(self.step.coupling)
        grad_w, found = self.coupling.gradients(grad_output + extra.coupling, grad_logdet, wrt)
        pairs += zip(wrt, found, strict=True)
        grad_a = _layer_gradients(
            self.step.invconv, self.trace.actnorm, grad_w + extra.invconv, grad_logdet, pairs
        )
        grad_x = _layer_gradients(
            self.step.actnorm, self.input, grad_a + extra.actnorm, grad_logdet, pairs
        )
        return grad_x, pairs


def _fields(trace: StepTrace) -> tuple[Tensor, Tensor, Tensor]:
    return trace.actnorm, trace.invconv, trace.coupling


def _layer_gradients(
    layer: nn.Module, x: Tensor, grad_y: Tensor, grad_logdet: Tensor, pairs: GradPairs
) -> Tensor:
    """Recompute a cheap layer from its input and backpropagate; parameter gradients go to `pairs`."""
    wrt = trainable(layer)
    (grad_x,), found = recompute_gradients(
        lambda xs: tuple((t,) for t in layer(xs[0])),  # (y, logdet) -> ((y,), (logdet,))
        (x,),
        (grad_y,),
        (grad_logdet,),
        wrt,
    )
    pairs += zip(wrt, found, strict=True)
    return zeros_if_none(grad_x, x)
