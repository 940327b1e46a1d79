"""Conditional versions of Glow's layers and the conditioning networks (Full-Glow, section 4).

Each conditional layer keeps the invertible contract of `fullglow.layers` with an extra `cond`
tensor: `y, logdet = layer(x, cond)`, `x, logdet = layer.inverse(y, cond)`, log-dets per sample.
"""

from fullglow.conditional.actnorm import ConditionalActNorm
from fullglow.conditional.coupling import ConditionalCoupling
from fullglow.conditional.flow_step import ConditionalFlowStep
from fullglow.conditional.invconv import ConditionalInvConv1x1
from fullglow.conditional.networks import ConditioningConfig, ConditioningConv, ConditioningMLP

__all__ = [
    "ConditionalActNorm",
    "ConditionalCoupling",
    "ConditionalFlowStep",
    "ConditionalInvConv1x1",
    "ConditioningConfig",
    "ConditioningConv",
    "ConditioningMLP",
]
