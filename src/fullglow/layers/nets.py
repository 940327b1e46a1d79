"""Small convolutional networks shared by the layers, and the layout and precision they run in.

Layout: on the CPU, oneDNN's convolutions with few input or output channels (a coupling network's
first and last 3x3 convolutions, the conditioning convolutions) run 1.3-2x faster on channels-last
(NHWC) tensors, and the 512x512 1x1 convolution becomes one matrix product. The networks below
therefore compute in channels-last on the CPU by default; the flow's own tensors (few channels,
reshaped by squeeze and split) stay in the ordinary layout. The layout changes speed only.

Precision (opt-in, `set_bf16`): the coupling and conditioning networks may run under bfloat16
autocast and hand float32 back. Everything that defines the invertible map's log-det stays
float32: actnorm, the 1x1 convolutions, the priors, and the coupling's `sigmoid`/`log`, which
read the network's (rounded) output, so each log-det is still exactly that of the map applied.
Decoding recomputes the same network outputs from the rebuilt input, so the inverse stays a true
inverse, but bfloat16's rounding amplifies float32's tiny reconstruction errors: use it to train,
not where `decode(encode(x))` must return `x` to float32 precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ConvNet(nn.Module):
    """A network of convolutions that may compute in channels-last and in bfloat16.

    `channels_last`: True or False forces the layout; None (the default) picks channels-last for
    CPU tensors and leaves tensors on other devices as they come (`set_channels_last`).
    `bf16`: run under bfloat16 autocast (`set_bf16`; only classes with `mixed_precision` take it).
    """

    mixed_precision: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.channels_last: bool | None = None
        self.bf16 = False
        self.recorder: NetworkRecorder | None = None

    def in_layout(self, x: Tensor) -> Tensor:
        """`x` in the layout this network computes in."""
        use = x.device.type == "cpu" if self.channels_last is None else self.channels_last
        return x.contiguous(memory_format=torch.channels_last) if use and x.dim() == 4 else x

    def run(self, net: nn.Module, x: Tensor) -> Tensor:
        """`net(x)` in this network's layout and precision; contiguous, in `x`'s dtype.

        While a `NetworkRecorder` is attached, the call is recorded or replayed instead.
        """
        if self.recorder is not None:
            return self.recorder.run(self, lambda h: self._compute(net, h), x)
        return self._compute(net, x)

    def _compute(self, net: nn.Module, x: Tensor) -> Tensor:
        h = self.in_layout(x)
        if not self.bf16:
            return net(h).contiguous()
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            y = net(h)
        return y.to(x.dtype).contiguous()


@dataclass
class _Recorded:
    """One network evaluation: `output = network(leaf)`, with its graph to `leaf` and `params`."""

    leaf: Tensor
    output: Tensor
    params: list[Tensor]


class NetworkRecorder:
    """Runs each `ConvNet` of a step once for an inverse and a forward recomputation.

    The memory-saving backward (`fullglow.layers.reversible.ChainStep.backprop`) inverts a step,
    then recomputes its forward pass with a graph. Both evaluate the same networks on the same
    values (a coupling's network reads the half it passes through unchanged). While
    `recording()`, each network runs with a graph on a detached copy of its input and the output
    is kept; while `replaying()`, the same call returns the kept output through `_Replay`, whose
    backward backpropagates the kept graph and hands the input's gradient to the recomputed input.
    """

    def __init__(self, module: nn.Module) -> None:
        self.networks = [m for m in module.modules() if isinstance(m, ConvNet)]
        self.runs: dict[int, list[_Recorded]] = {}
        self.replay = False

    @contextmanager
    def _attached(self, replay: bool) -> Iterator[None]:
        self.replay = replay
        for network in self.networks:
            network.recorder = self
        try:
            yield
        finally:
            for network in self.networks:
                network.recorder = None

    def recording(self) -> contextlib.AbstractContextManager[None]:
        return self._attached(replay=False)

    def replaying(self) -> contextlib.AbstractContextManager[None]:
        return self._attached(replay=True)

    def check_replayed(self) -> None:
        """Raise unless every recorded run was replayed (the recomputation called each network
        as the inverse did)."""
        left = sum(len(runs) for runs in self.runs.values())
        if left:
            raise RuntimeError(f"{left} recorded network run(s) not replayed by the recomputation")

    def run(self, network: ConvNet, compute: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        runs = self.runs.setdefault(id(network), [])
        if not self.replay:
            leaf = x.detach().requires_grad_(True)
            with torch.enable_grad():
                output = compute(leaf)
            runs.append(
                _Recorded(leaf, output, [p for p in network.parameters() if p.requires_grad])
            )
            return output.detach()
        if not runs or runs[0].leaf.shape != x.shape:
            raise RuntimeError(f"{type(network).__name__}: recomputed without a matching inverse")
        recorded = runs.pop(0)
        return _Replay.apply(recorded, x, *recorded.params)


class _Replay(torch.autograd.Function):
    """A recorded network output as a function of the recomputed input and the parameters."""

    @staticmethod
    def forward(ctx, recorded: _Recorded, x: Tensor, *params: Tensor) -> Tensor:  # noqa: ANN001
        ctx.recorded = recorded
        return recorded.output.detach()

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        recorded = ctx.recorded
        found = torch.autograd.grad(
            recorded.output, (recorded.leaf, *recorded.params), grad, allow_unused=True
        )
        ctx.recorded = None
        return (None, found[0] if ctx.needs_input_grad[1] else None, *found[1:])


def set_channels_last(model: nn.Module, enabled: bool | None) -> None:
    """Make every `ConvNet` of `model` compute in channels-last (True), the ordinary layout (False),
    or the device's default (None: channels-last on the CPU)."""
    for module in model.modules():
        if isinstance(module, ConvNet):
            module.channels_last = enabled


def set_bf16(model: nn.Module, enabled: bool) -> None:
    """Run the coupling and conditioning networks of `model` under bfloat16 autocast (or not)."""
    for module in model.modules():
        if isinstance(module, ConvNet) and module.mixed_precision:
            module.bf16 = enabled


class ZeroConv2d(ConvNet):
    """3x3 convolution whose weights, bias and per-channel log-scale start at zero (Glow).

    `y = conv(x) * exp(3 * scale)`; at initialisation `y == 0`, so a coupling or a prior that ends
    in this layer starts as the identity or the standard normal. The output is in the ordinary
    (contiguous) layout. Shapes: `(B, C_in, H, W) -> (B, C_out, H, W)`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        y = F.conv2d(self.in_layout(x), self.conv.weight, self.conv.bias, padding=1)
        return (y * torch.exp(3 * self.scale)).contiguous()
