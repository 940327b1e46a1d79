"""Full-Glow (Sorkhei et al., section 4): a source Glow and a fully conditional target Glow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from fullglow.conditional.flow_step import ConditionalFlowStep
from fullglow.layers.flow_step import FlowStep, StepTrace
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, States, StepGradients, run_chain
from fullglow.layers.squeeze import squeeze, unsqueeze
from fullglow.likelihood import bits_per_dim
from fullglow.models.config import FullGlowConfig
from fullglow.models.glow import FlowPass, Glow, join_latent, split_latent
from fullglow.models.multiscale import LevelShape, check_image, level_shapes, num_dims, resize_side


@dataclass(frozen=True)
class FlowLoss:
    """Eq. 11 in bits per dimension: `total = lambda * source_bpd + target_bpd` (batch means)."""

    total: Tensor
    source_bpd: Tensor
    target_bpd: Tensor


class JointStep(ChainStep):
    """Source step `(l, k)` and target step `(l, k)` as one two-stream invertible step.

    The target step reads the source step's trace, so the pair is invertible given only its
    outputs: invert the source step (its intermediates are the trace), invert the target step. This is what
    lets `run_chain` train Full-Glow with memory that does not grow with depth.
    """

    def __init__(self, source: FlowStep, target: ConditionalFlowStep) -> None:
        super().__init__()
        self.source = source
        self.target = target

    def forward(self, states: States, context: States) -> tuple[States, States]:
        x_a, x_b = states
        side = context[0] if context else None
        y_a, logdet_a, trace = self.source.forward_traced(x_a)
        y_b, logdet_b = self.target(x_b, trace, side)
        return (y_a, y_b), (logdet_a, logdet_b)

    def inverse(self, states: States, context: States) -> States:
        y_a, y_b = states
        side = context[0] if context else None
        x_a, _, trace = self.source.inverse_traced(y_a)
        x_b, _ = self.target.inverse(y_b, trace, side)
        return x_a, x_b

    def reverse(
        self, outputs: States, grad_outputs: States, grad_logdets: States, context: States
    ) -> StepGradients:
        """Memory-saving backward of the pair, every coupling network run once.

        The source step is rebuilt first (its intermediates are the target's conditions); the
        target step's backward yields the gradients that reach those intermediates, which join
        the source step's own backward.
        """
        if any(c.requires_grad for c in context):
            return super().reverse(outputs, grad_outputs, grad_logdets, context)
        (y_a, y_b), (grad_y_a, grad_y_b), (grad_logdet_a, grad_logdet_b) = (
            outputs,
            grad_outputs,
            grad_logdets,
        )
        side = context[0] if context else None
        source = self.source.reverse(y_a)
        trace = StepTrace(
            *(
                t.detach().requires_grad_(True)
                for t in (source.trace.actnorm, source.trace.invconv, y_a)
            )
        )
        target = self.target.reverse(y_b, trace, side)
        grad_x_b, target_pairs, trace_grads = target.gradients(grad_y_b, grad_logdet_b)
        grad_x_a, source_pairs = source.gradients(grad_y_a, grad_logdet_a, trace_grads)
        return StepGradients(
            (source.input, target.input), (grad_x_a, grad_x_b), source_pairs + target_pairs
        )


class TargetLevel(nn.Module):
    """One block of the target stack: K conditional flow steps and a plain-Glow prior."""

    def __init__(
        self, shape: LevelShape, source_shape: LevelShape, n_flows: int, config: FullGlowConfig
    ) -> None:
        super().__init__()
        self.shape = shape
        self.steps = nn.ModuleList(
            ConditionalFlowStep(
                shape.channels,
                source_shape.channels,
                shape.size,
                config.hidden_channels,
                config.conditioning,
                config.side_channels,
            )
            for _ in range(n_flows)
        )
        self.prior: GaussianSplit | TopPrior = (
            GaussianSplit(shape.channels) if shape.split else TopPrior(shape.channels)
        )


@dataclass(frozen=True)
class _JointPass:
    source: FlowPass
    target: FlowPass


class FullGlow(nn.Module):
    """`log p(x_b | x_a)` with every target operation conditioned on the source Glow's activations.

    Images (`x` = target photo, `cond` = source colour label image) are in [0, 1]; the caller
    dequantizes (`fullglow.dequantize`). `side` (optional, `(B, side_channels, H, W)`) is resized to
    each level and concatenated to every conditioning network's input. All results are per sample.
    """

    name = "fullglow"
    has_likelihood = True

    def __init__(self, config: FullGlowConfig) -> None:
        super().__init__()
        self.config = config
        self.source = Glow(config.source_config())
        self.shapes = level_shapes(config.image_size, config.in_channels, config.n_blocks)
        self.target_levels = nn.ModuleList(
            TargetLevel(shape, source_shape, n, config)
            for shape, source_shape, n in zip(
                self.shapes, self.source.shapes, config.n_flows, strict=True
            )
        )

    @property
    def memory_saving(self) -> bool:
        """Train with invertible backprop: activations are recomputed, not stored."""
        return self.source.memory_saving

    @memory_saving.setter
    def memory_saving(self, value: bool) -> None:
        self.source.memory_saving = value

    @property
    def num_dims(self) -> int:
        return num_dims(self.config.in_channels, self.config.image_size)

    def latent_shapes(self) -> list[tuple[int, int, int]]:
        return [shape.latent_shape for shape in self.shapes]

    def _check(self, x: Tensor | None, cond: Tensor, side: Tensor | None) -> None:
        cfg = self.config
        check_image("cond", cond, cfg.cond_channels, cfg.image_size)
        if x is not None:
            check_image("x", x, cfg.in_channels, cfg.image_size, batch=cond.shape[0])
        if (side is None) != (cfg.side_channels == 0):
            raise ValueError(
                f"side must be {'given' if cfg.side_channels else 'None'} "
                f"(side_channels = {cfg.side_channels})"
            )
        if side is not None:
            check_image("side", side, cfg.side_channels, cfg.image_size, batch=cond.shape[0])

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> _JointPass:
        h_a, h_b = cond - 0.5, x - 0.5
        latents_a, latents_b = [], []
        logdet_a = cond.new_zeros(cond.shape[0])
        logdet_b = x.new_zeros(x.shape[0])
        for source_level, target_level in zip(self.source.levels, self.target_levels, strict=True):
            h_a, h_b = squeeze(h_a), squeeze(h_b)
            side_l = resize_side(side, target_level.shape.size)
            steps = [
                JointStep(s, t) for s, t in zip(source_level.steps, target_level.steps, strict=True)
            ]
            context = () if side_l is None else (side_l,)
            (h_a, h_b), (step_a, step_b) = run_chain(steps, (h_a, h_b), context, self.memory_saving)
            y_a, prior_a = source_level.prior(h_a)
            y_b, prior_b = target_level.prior(h_b)
            h_a, eps_a = split_latent(y_a, source_level.shape)
            h_b, eps_b = split_latent(y_b, target_level.shape)
            latents_a.append(eps_a)
            latents_b.append(eps_b)
            logdet_a = logdet_a + step_a + prior_a
            logdet_b = logdet_b + step_b + prior_b
        return _JointPass(FlowPass(latents_a, logdet_a), FlowPass(latents_b, logdet_b))

    def log_prob(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        """`log p(x | cond)` in nats, continuous density, `(B,)`."""
        self._check(x, cond, side)
        return self._encode(x, cond, side).target.log_prob()

    def source_log_prob(self, cond: Tensor) -> Tensor:
        """`log p(cond)` under the source Glow, `(B,)`."""
        return self.source.log_prob(cond)

    def forward(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> FlowLoss:
        """The training objective (eq. 11), so that `DistributedDataParallel` can wrap the model."""
        self._check(x, cond, side)
        joint = self._encode(x, cond, side)
        source_bpd = bits_per_dim(
            joint.source.log_prob(), self.source.num_dims, self.config.n_bits
        ).mean()
        target_bpd = bits_per_dim(joint.target.log_prob(), self.num_dims, self.config.n_bits).mean()
        total = self.config.source_weight * source_bpd + target_bpd
        return FlowLoss(total, source_bpd, target_bpd)

    def loss(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        """Eq. 11 in bits per dim, batch mean: `lambda * bpd(cond) + bpd(x | cond)`."""
        return self(x, cond, side).total

    def initialize(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> None:
        """Data-dependent initialisation of every (conditional) actnorm from one batch."""
        self._check(x, cond, side)
        with torch.no_grad():
            was_training = self.training
            self.train()
            self._encode(x, cond, side)
            self.train(was_training)

    def encode(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> list[Tensor]:
        """Standardised target latents `eps`, one per level: `log_prob = sum log N(eps) + logdet`."""
        self._check(x, cond, side)
        return self._encode(x, cond, side).target.latents

    def decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None = None) -> Tensor:
        """Exact inverse of `encode` given the same condition."""
        self._check(None, cond, side)
        expected = self.latent_shapes()
        actual = [tuple(z.shape[1:]) for z in latents]
        if actual != expected:
            raise ValueError(f"latents must have shapes {expected} (after the batch), got {actual}")
        if any(z.shape[0] != cond.shape[0] for z in latents):
            raise ValueError(
                f"latents have batch sizes {[z.shape[0] for z in latents]}, cond has {cond.shape[0]}"
            )
        traces = self.source.step_traces(cond)
        h: Tensor | None = None
        for level, level_traces, eps in zip(
            reversed(self.target_levels), reversed(traces), reversed(latents), strict=True
        ):
            side_l = resize_side(side, level.shape.size)
            h, _ = level.prior.inverse(join_latent(h, eps))
            for step, trace in zip(reversed(level.steps), reversed(level_traces), strict=True):
                h, _ = step.inverse(h, trace, side_l)
            h = unsqueeze(h)
        return h + 0.5

    def sample(
        self,
        cond: Tensor,
        temperature: float = 0.8,
        generator: torch.Generator | None = None,
        side: Tensor | None = None,
    ) -> Tensor:
        """`decode([T * randn_like(eps) for each level], cond)`: photos for the labels in `cond`."""
        latents = [
            temperature
            * torch.randn(
                cond.shape[0], *s, generator=generator, device=cond.device, dtype=cond.dtype
            )
            for s in self.latent_shapes()
        ]
        return self.decode(latents, cond, side)

    def save(self, directory: str | Path) -> None:
        from fullglow.models.io import save_model

        save_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> FullGlow:
        from fullglow.models.io import load_model

        return load_model(directory, map_location, expected=cls)
