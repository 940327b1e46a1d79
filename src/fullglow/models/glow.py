"""Unconditional multi-scale Glow; also the source stack of Full-Glow and Dual-Glow."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from fullglow.layers.flow_step import FlowStep, StepTrace
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.squeeze import squeeze
from fullglow.likelihood import bits_per_dim
from fullglow.models.config import GlowConfig
from fullglow.models.levels import (
    FlowPass,
    LevelPlan,
    conditional_prior,
    decode_levels,
    encode_levels,
    split_latent,
)
from fullglow.models.multiscale import (
    LevelShape,
    SingleStreamStep,
    check_image,
    level_shapes,
    num_dims,
)


class GlowLevel(nn.Module):
    """One block: (squeeze, done by the model) K flow steps, then a split prior or the top prior."""

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
        self.prior: GaussianSplit | TopPrior = conditional_prior(shape, 0)

    def plan(self) -> LevelPlan:
        return LevelPlan(self.shape, [SingleStreamStep(step) for step in self.steps], self.prior)


class Glow(nn.Module):
    """Multi-scale Glow over images in [0, 1] (centred to [-0.5, 0.5] internally, log-det 0).

    `log_prob(x)` is the continuous log-density in nats, per sample; `encode` returns the
    standardised latents `eps` (one per level), `decode` inverts it exactly.
    """

    name = "glow"
    has_likelihood = True

    def __init__(self, config: GlowConfig) -> None:
        super().__init__()
        self.config = config
        self.shapes = level_shapes(config.image_size, config.in_channels, config.n_blocks)
        self.levels = nn.ModuleList(
            GlowLevel(shape, n, config.hidden_channels, config.coupling, config.scale_floor)
            for shape, n in zip(self.shapes, config.n_flows, strict=True)
        )
        self.memory_saving = False

    @property
    def num_dims(self) -> int:
        return num_dims(self.config.in_channels, self.config.image_size)

    def latent_shapes(self) -> list[tuple[int, int, int]]:
        return [shape.latent_shape for shape in self.shapes]

    def _check(self, x: Tensor) -> None:
        check_image("x", x, self.config.in_channels, self.config.image_size)

    def _encode(self, x: Tensor) -> FlowPass:
        return encode_levels(x, [level.plan() for level in self.levels], self.memory_saving).flow

    def step_traces(self, x: Tensor) -> list[list[StepTrace]]:
        """The outputs of every operation of every step, per level (Full-Glow's conditions)."""
        h = x - 0.5
        traces = []
        for level in self.levels:
            h = squeeze(h)
            level_traces = []
            for step in level.steps:
                h, _, trace = step.forward_traced(h)
                level_traces.append(trace)
            traces.append(level_traces)
            h, _ = split_latent(level.prior(h)[0], level.shape)
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
        with torch.no_grad():
            was_training = self.training
            self.train()
            self._encode(x)
            self.train(was_training)

    def decode(self, latents: list[Tensor]) -> Tensor:
        expected = self.latent_shapes()
        actual = [tuple(z.shape[1:]) for z in latents]
        if actual != expected:
            raise ValueError(f"latents must have shapes {expected} (after the batch), got {actual}")
        return decode_levels(latents, [level.plan() for level in self.levels])

    def sample(
        self,
        batch_size: int,
        temperature: float = 0.8,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """`decode([T * randn for each latent])`; device and dtype follow the parameters."""
        ref = next(self.parameters())
        latents = [
            temperature
            * torch.randn(batch_size, *s, generator=generator, device=ref.device, dtype=ref.dtype)
            for s in self.latent_shapes()
        ]
        return self.decode(latents)

    def save(self, directory: str | Path) -> None:
        from fullglow.models.io import save_model

        save_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> Glow:
        from fullglow.models.io import load_model

        return load_model(directory, map_location, expected=cls)
