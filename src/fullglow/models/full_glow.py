"""Full-Glow (Sorkhei et al., section 4): a source Glow and a fully conditional target Glow."""

from __future__ import annotations

from torch import Tensor, nn

from fullglow.conditional.flow_step import ConditionalFlowStep
from fullglow.layers.flow_step import FlowStep
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, States
from fullglow.models.conditional_flow import ConditionalFlow, JointPass, conditional_steps
from fullglow.models.config import FullGlowConfig
from fullglow.models.glow import Glow
from fullglow.models.levels import LevelPlan, Stream, decode_levels, encode_levels, level_prior
from fullglow.models.multiscale import LevelShape, resize_side


class JointStep(ChainStep):
    """Source step `(l, k)` and target step `(l, k)` as one two-stream invertible step.

    The target step reads the source step's trace, so the pair is invertible given only its
    outputs: invert the source step (its intermediates are the trace), invert the target step.
    This is what lets `run_chain` train Full-Glow with memory that does not grow with depth.
    Context: `()` or `(side,)`.
    """

    def __init__(self, source: FlowStep, target: ConditionalFlowStep) -> None:
        super().__init__()
        self.source = source
        self.target = target

    def forward_chain(self, states: States, context: States) -> tuple[States, States]:
        x_a, x_b = states
        y_a, logdet_a, trace = self.source.forward_traced(x_a)
        y_b, logdet_b = self.target(x_b, trace, *context)
        return (y_a, y_b), (logdet_a, logdet_b)

    def inverse_chain(self, states: States, context: States) -> States:
        y_a, y_b = states
        x_a, _, trace = self.source.inverse_traced(y_a)
        x_b, _ = self.target.inverse(y_b, trace, *context)
        return x_a, x_b


class TargetLevel(nn.Module):
    """One block of the target stack: K conditional flow steps and a plain-Glow prior."""

    def __init__(
        self, shape: LevelShape, source_shape: LevelShape, n_flows: int, config: FullGlowConfig
    ) -> None:
        super().__init__()
        self.shape = shape
        self.steps = conditional_steps(
            shape, source_shape.channels, n_flows, config, config.conditioning
        )
        self.prior: GaussianSplit | TopPrior = level_prior(shape)


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
    config_class = FullGlowConfig

    def __init__(self, config: FullGlowConfig) -> None:
        super().__init__(config)
        self.source = Glow(config.source_config())
        self.target_levels = nn.ModuleList(
            TargetLevel(shape, source_shape, n, config)
            for shape, source_shape, n in zip(
                self.shapes, self.source.shapes, config.n_flows, strict=True
            )
        )
        # Built once, not registered: the steps they pair are the source's and the target's.
        self._joint_steps = tuple(
            tuple(JointStep(s, t) for s, t in zip(source.steps, target.steps, strict=True))
            for source, target in zip(self.source.levels, self.target_levels, strict=True)
        )

    def _sides(self, side: Tensor | None) -> list[States]:
        """Per level, the chain context: `()` or the side information at the level's size."""
        return [
            () if side is None else (resize_side(side, level.shape.size),)
            for level in self.target_levels
        ]

    def _encode(self, x: Tensor, cond: Tensor, side: Tensor | None) -> JointPass:
        plans = [
            LevelPlan((source.stream(), Stream(target.shape, target.prior)), steps, context)
            for source, target, steps, context in zip(
                self.source.levels, self.target_levels, self._joint_steps, self._sides(side),
                strict=True,
            )
        ]  # fmt: skip
        source, target = encode_levels((cond, x), plans, self.memory_saving)
        return JointPass(source.flow, target.flow)

    def _decode(self, latents: list[Tensor], cond: Tensor, side: Tensor | None) -> Tensor:
        plans = [
            LevelPlan(
                (Stream(level.shape, level.prior),),
                list(level.steps),
                context,
                [(t.actnorm, t.invconv, t.coupling) for t in traces],
            )
            for level, traces, context in zip(
                self.target_levels, self.source.step_traces(cond), self._sides(side), strict=True
            )
        ]
        return decode_levels((latents,), plans)[0]

    def source_log_prob(self, cond: Tensor) -> Tensor:
        """`log p(cond)` under the source Glow, `(B,)`."""
        return self.source.log_prob(cond)
