"""One Glow flow step: actnorm -> invertible 1x1 convolution -> coupling (affine, or additive)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from fullglow.layers.actnorm import ActNorm
from fullglow.layers.coupling import make_coupling
from fullglow.layers.invconv import InvConv1x1
from fullglow.layers.reversible import ChainStep, States


@dataclass(frozen=True)
class StepTrace:
    """The outputs of the three operations of one flow step, each `(B, C, H, W)`.

    Full-Glow's target step `(l, k)` is conditioned on the trace of source step `(l, k)`; C-Glow
    fills all three with the level's condition features.
    """

    actnorm: Tensor
    invconv: Tensor
    coupling: Tensor


class FlowStep(ChainStep):
    """`y = coupling(invconv(actnorm(x)))`; log-dets add. Shapes: `(B, C, H, W)` both ways.

    As a one-stream `ChainStep` it reads no context: `forward_chain((x,), ()) = ((y,), (logdet,))`.
    """

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

    def forward_chain(self, states: States, context: States) -> tuple[States, States]:
        y, logdet = self(states[0])
        return (y,), (logdet,)

    def inverse_chain(self, states: States, context: States) -> States:
        return (self.inverse(states[0])[0],)
