"""Unconditional multi-scale Glow; also the source stack of Full-Glow and Dual-Glow."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.layers.flow_step import FlowStep, StepTrace
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, States
from fullglow.likelihood import bits_per_dim
from fullglow.models.config import GlowConfig
from fullglow.models.flow_model import FlowModel
from fullglow.models.levels import (
    FlowPass,
    LevelPlan,
    LevelsPass,
    Stream,
    decode_levels,
    encode_levels,
    level_prior,
)
from fullglow.models.multiscale import LevelShape, check_image


class GlowLevel(nn.Module):
    """One block: (squeeze, done by the walker) K flow steps, then a split prior or the top prior."""

    def __init__(
        self,
        shape: LevelShape,
        n_flows: int,
        hidden_channels: int,
        coupling: str = "affine",
        scale_floor: float = 0.0,
    ) -> None:
        super().__init__()
        self.shape = shape
        self.steps = nn.ModuleList(
            FlowStep(shape.channels, hidden_channels, coupling, scale_floor) for _ in range(n_flows)
        )
        self.prior: GaussianSplit | TopPrior = level_prior(shape)

    def stream(self) -> Stream:
        return Stream(self.shape, self.prior)

    def plan(self) -> LevelPlan:
        return LevelPlan((self.stream(),), list(self.steps))


class Glow(FlowModel):
    """Multi-scale Glow over images in [0, 1] (centred to [-0.5, 0.5] internally, log-det 0).

    `log_prob(x)` is the continuous log-density in nats, per sample; `encode` returns the
    standardised latents `eps` (one per level), `decode` inverts it exactly.
    """

    name = "glow"
    config_class = GlowConfig

    def __init__(self, config: GlowConfig) -> None:
        super().__init__(config)
        self.levels = nn.ModuleList(
            GlowLevel(shape, n, config.hidden_channels, config.coupling, config.scale_floor)
            for shape, n in zip(self.shapes, config.n_flows, strict=True)
        )

    def _check(self, x: Tensor) -> None:
        check_image("x", x, self.config.in_channels, self.config.image_size)

    def encoding(self, x: Tensor, memory_saving: bool = False) -> LevelsPass:
        """The full encoding of `x`, raw latents included (Dual-Glow's target reads them)."""
        plans = [level.plan() for level in self.levels]
        (encoding,) = encode_levels((x,), plans, memory_saving)
        return encoding

    def _encode(self, x: Tensor) -> FlowPass:
        return self.encoding(x, self.memory_saving).flow

    def step_traces(self, x: Tensor) -> list[list[StepTrace]]:
        """The outputs of every operation of every step, per level (Full-Glow's conditions)."""
        traces: list[list[StepTrace]] = []
        plans = [
            LevelPlan((level.stream(),), [_Tracer(level.steps, traces)]) for level in self.levels
        ]
        encode_levels((x,), plans)
        return traces

    def encode(self, x: Tensor) -> list[Tensor]:
        self._check(x)
        return self._encode(x).latents

    def log_prob(self, x: Tensor) -> Tensor:
        self._check(x)
        return self._encode(x).log_prob()

    def bits_per_dim(self, x: Tensor) -> Tensor:
        """Per-sample bits per dimension `(B,)` of (dequantized) images `x`."""
        return bits_per_dim(self.log_prob(x), self.num_dims, self.config.n_bits)

    def loss(self, x: Tensor) -> Tensor:
        return self.bits_per_dim(x).mean()

    def initialize(self, x: Tensor) -> None:
        """Data-dependent initialisation of every actnorm from the batch `x`."""
        self._check(x)
        self._initialize(x)

    def decode(self, latents: list[Tensor]) -> Tensor:
        self._check_latents(latents)
        (x,) = decode_levels((latents,), [level.plan() for level in self.levels])
        return x

    def sample(
        self,
        batch_size: int,
        temperature: float = 0.8,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """`decode([T * randn for each latent])`; device and dtype follow the parameters."""
        reference = next(self.parameters())
        return self.decode(self._random_latents(batch_size, temperature, generator, reference))


class _Tracer(ChainStep):
    """A level's flow steps as one forward-only chain step that appends their traces to `sink`."""

    def __init__(self, steps: nn.ModuleList, sink: list[list[StepTrace]]) -> None:
        super().__init__()
        self.steps = steps
        self.sink = sink

    def forward_chain(self, states: States, context: States) -> tuple[States, States]:
        (h,) = states
        traces = []
        logdet = h.new_zeros(h.shape[0])
        for step in self.steps:
            h, step_logdet, trace = step.forward_traced(h)
            logdet = logdet + step_logdet
            traces.append(trace)
        self.sink.append(traces)
        return (h,), (logdet,)
