"""Full-Glow (Sorkhei et al., section 4): a source Glow and a fully conditional target Glow."""

from __future__ import annotations

from torch import Tensor, nn

from fullglow.conditional.flow_step import ConditionalFlowStep
from fullglow.layers.flow_step import FlowStep, StepTrace
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, States, StepGradients, run_chain
from fullglow.layers.squeeze import squeeze, unsqueeze
from fullglow.models.conditional_flow import ConditionalFlow, JointPass
from fullglow.models.config import FullGlowConfig
from fullglow.models.glow import Glow
from fullglow.models.levels import FlowPass, conditional_prior, join_latent, split_latent
from fullglow.models.multiscale import LevelShape, resize_side


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
                config.coupling,
                config.scale_floor,
            )
            for _ in range(n_flows)
        )
        self.prior: GaussianSplit | TopPrior = conditional_prior(shape, 0)


class FullGlow(ConditionalFlow):
    """`log p(x_b | x_a)` with every target operation conditioned on the source Glow's activations.

    Images (`x` = target photo, `cond` = source colour label image) are in [0, 1]; the caller
    dequantizes (`fullglow.dequantize`). Target step `(l, k)` reads the outputs of the actnorm,
    1x1 convolution and coupling of source step `(l, k)`; `side` (optional,
    `(B, side_channels, H, W)`) is resized to each level and concatenated to every conditioning
    network's input. The objective is eq. 11, `source_weight * bpd(cond) + bpd(x | cond)`. The
    API (`log_prob`, `loss`, `encode`, `decode`, `sample`, ...) is `ConditionalFlow`'s.
    """

    name = "fullglow"

    def __init__(self, config: FullGlowConfig) -> None:
        super().__init__(config)
        self.source = Glow(config.source_config())
        self.target_levels = nn.ModuleList(
            TargetLevel(shape, source_shape, n, config)
            for shape, source_shape, n in zip(
                self.shapes, self.source.shapes, config.n_flows, strict=True
            )
        )

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
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
        return JointPass(FlowPass(latents_a, logdet_a), FlowPass(latents_b, logdet_b))

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
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

    def source_log_prob(self, cond: Tensor) -> Tensor:
        """`log p(cond)` under the source Glow, `(B,)`."""
        return self.source.log_prob(cond)
