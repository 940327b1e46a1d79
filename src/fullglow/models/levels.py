"""Walking a multi-scale Glow stack given, per level, its steps, its prior and what they read.

A `LevelPlan` is one level as the walkers see it: the chain of single-stream steps (each reading
the constant `context` tensors), the level's shape and its prior (reading `prior_features`). A
model that conditions its stack on something (C-Glow on the raw condition, Dual-Glow's target on
the source latents) only builds the plans; `encode_levels` and `decode_levels` do the rest:

    encode:  h_0 = x - 1/2;  per level l:  h = steps_l(squeeze(h)),  (h, eps_l) = prior_l(h)
    decode:  the exact inverse, top level first.

Encoding goes through `run_chain`, so it can train with invertible backprop (`memory_saving`).
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


def split_latent(y: Tensor, shape: LevelShape) -> tuple[Tensor, Tensor]:
    """Separate a prior's output into the kept channels and the level's latent."""
    if shape.split:
        return y[:, : shape.kept_channels], y[:, shape.kept_channels :]
    return y[:, :0], y


def join_latent(kept: Tensor | None, eps: Tensor) -> Tensor:
    return eps if kept is None else torch.cat([kept, eps], dim=1)


@dataclass(frozen=True)
class LevelPlan:
    """One level: `steps` map `(B, C, H, W)` to itself reading `context`; `prior` reads `prior_features`.

    `steps` are one-stream `ChainStep`s; `context` holds constant `(B, *, H, W)` tensors (the
    level's condition, side information); `prior_features` is `None` for an unconditional prior.
    """

    shape: LevelShape
    steps: Sequence[ChainStep]
    prior: GaussianSplit | TopPrior
    context: States = ()
    prior_features: Tensor | None = None


@dataclass(frozen=True)
class LevelsPass:
    """An encoding: `flow` holds the standardised latents `eps_l` and the log-det; `raw_latents`
    the same latents before their prior standardised them, `z_l = mean_l + exp(log_sd_l) * eps_l`."""

    flow: FlowPass
    raw_latents: list[Tensor]


def conditional_prior(shape: LevelShape, feature_channels: int) -> GaussianSplit | TopPrior:
    """The level's prior, reading `feature_channels` extra channels (0: plain Glow's prior)."""
    if shape.split:
        return GaussianSplit(shape.channels, feature_channels)
    return TopPrior(shape.channels, feature_channels)


def encode_levels(x: Tensor, plans: Sequence[LevelPlan], memory_saving: bool = False) -> LevelsPass:
    """Images `x` `(B, C, H, W)` in [0, 1] to one latent per level and the total log-det `(B,)`."""
    h = x - 0.5
    latents, raw_latents = [], []
    logdet = x.new_zeros(x.shape[0])
    for plan in plans:
        (h,), (step_logdet,) = run_chain(
            list(plan.steps), (squeeze(h),), plan.context, memory_saving
        )
        raw_latents.append(split_latent(h, plan.shape)[1])
        y, prior_logdet = plan.prior(h, plan.prior_features)
        h, eps = split_latent(y, plan.shape)
        latents.append(eps)
        logdet = logdet + step_logdet + prior_logdet
    return LevelsPass(FlowPass(latents, logdet), raw_latents)


def decode_levels(latents: Sequence[Tensor], plans: Sequence[LevelPlan]) -> Tensor:
    """Exact inverse of `encode_levels` for the same plans: latents to images `(B, C, H, W)`."""
    h: Tensor | None = None
    for plan, eps in zip(reversed(plans), reversed(latents), strict=True):
        h, _ = plan.prior.inverse(join_latent(h, eps), plan.prior_features)
        for step in reversed(plan.steps):
            (h,) = step.inverse((h,), plan.context)
        h = unsqueeze(h)
    return h + 0.5
