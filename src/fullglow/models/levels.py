"""The flow core: walking a multi-scale stack of one or two streams, level by level.

Every flow model here is the same walk over levels, wired differently. A `LevelPlan` is one
level as the walker sees it: one `Stream` per image (its level shape, its prior and what the
prior reads), and the chain of `ChainStep`s that map all streams at once, step `k` reading
`step_contexts[k] + context`. A model only builds the plans; `encode_levels` and
`decode_levels` do the rest:

    encode:  h_0 = x - 1/2;  per level l:  h = steps_l(squeeze(h)),  (h, eps_l) = prior_l(h)
    decode:  the exact inverse, top level first.

Glow is one stream of `FlowStep`s; C-Glow one stream of `ConditionalFlowStep`s reading the
level's condition features; Dual-Glow two one-stream walks, the target's priors reading the
source's latents; Full-Glow two streams whose joint steps pair source and target step `(l, k)`.
Encoding goes through `run_chain`, so every model trains with invertible backprop
(`memory_saving`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, States, run_chain
from fullglow.layers.squeeze import squeeze, unsqueeze
from fullglow.likelihood import standard_normal_log_prob
from fullglow.models.multiscale import LevelShape


@dataclass(frozen=True)
class FlowPass:
    """Result of encoding: standardised latents (one per level) and the total log-det `(B,)`."""

    latents: list[Tensor]
    logdet: Tensor

    def log_prob(self) -> Tensor:
        """`sum_l log N(eps_l; 0, I) + logdet`: the log-density in nats, `(B,)`."""
        return sum(standard_normal_log_prob(eps) for eps in self.latents) + self.logdet


@dataclass(frozen=True)
class LevelsPass:
    """One stream's encoding: `flow` holds the standardised latents `eps_l` and the log-det;
    `raw_latents` the same latents before their prior standardised them,
    `z_l = mean_l + exp(log_sd_l) * eps_l`."""

    flow: FlowPass
    raw_latents: list[Tensor]


def split_latent(y: Tensor, shape: LevelShape) -> tuple[Tensor, Tensor]:
    """Separate a prior's output into the kept channels and the level's latent."""
    if shape.split:
        return y[:, : shape.kept_channels], y[:, shape.kept_channels :]
    return y[:, :0], y


def join_latent(kept: Tensor | None, eps: Tensor) -> Tensor:
    return eps if kept is None else torch.cat([kept, eps], dim=1)


def level_prior(shape: LevelShape, feature_channels: int = 0) -> GaussianSplit | TopPrior:
    """The level's prior: a split prior, or the top prior at the last level; it reads
    `feature_channels` conditioning channels (none: plain Glow's prior)."""
    if shape.split:
        return GaussianSplit(shape.channels, feature_channels)
    return TopPrior(shape.channels, feature_channels)


@dataclass(frozen=True)
class Stream:
    """One image's stream at one level: its shape, its prior and the prior's features
    (`(B, F, H, W)`, `None` for an unconditional prior)."""

    shape: LevelShape
    prior: GaussianSplit | TopPrior
    prior_features: Tensor | None = None


@dataclass(frozen=True)
class LevelPlan:
    """One level: `steps` map the `streams` (`(B, C, H, W)` each, to themselves); step `k`
    reads `step_contexts[k] + context` (`step_contexts` empty: `context` alone)."""

    streams: tuple[Stream, ...]
    steps: Sequence[ChainStep]
    context: States = ()
    step_contexts: Sequence[States] = ()

    def contexts(self) -> list[States]:
        if not self.step_contexts:
            return [self.context] * len(self.steps)
        return [own + self.context for own in self.step_contexts]


def encode_levels(
    inputs: States, plans: Sequence[LevelPlan], memory_saving: bool = False
) -> tuple[LevelsPass, ...]:
    """Images `(B, C, H, W)` in [0, 1], one per stream, to one `LevelsPass` per stream."""
    hs = tuple(x - 0.5 for x in inputs)
    latents: list[list[Tensor]] = [[] for _ in inputs]
    raw_latents: list[list[Tensor]] = [[] for _ in inputs]
    logdets = [x.new_zeros(x.shape[0]) for x in inputs]
    for plan in plans:
        hs, step_logdets = run_chain(
            plan.steps, tuple(squeeze(h) for h in hs), plan.contexts(), memory_saving
        )
        kept = []
        for i, (stream, h) in enumerate(zip(plan.streams, hs, strict=True)):
            raw_latents[i].append(split_latent(h, stream.shape)[1])
            y, prior_logdet = stream.prior(h, stream.prior_features)
            h, eps = split_latent(y, stream.shape)
            kept.append(h)
            latents[i].append(eps)
            logdets[i] = logdets[i] + step_logdets[i] + prior_logdet
        hs = tuple(kept)
    return tuple(
        LevelsPass(FlowPass(z, logdet), raw)
        for z, logdet, raw in zip(latents, logdets, raw_latents, strict=True)
    )


def decode_levels(latents: Sequence[Sequence[Tensor]], plans: Sequence[LevelPlan]) -> States:
    """Exact inverse of `encode_levels` for the same plans: per stream, its latents (one per
    level) to images `(B, C, H, W)`."""
    hs: list[Tensor | None] = [None] * len(latents)
    for index in reversed(range(len(plans))):
        plan = plans[index]
        states = tuple(
            stream.prior.inverse(join_latent(h, z[index]), stream.prior_features)[0]
            for stream, h, z in zip(plan.streams, hs, latents, strict=True)
        )
        for step, context in zip(reversed(plan.steps), reversed(plan.contexts()), strict=True):
            states = step.inverse_chain(states, context)
        hs = [unsqueeze(h) for h in states]
    return tuple(h + 0.5 for h in hs)
