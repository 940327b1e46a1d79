"""Invertible building blocks of Glow.

Every layer is one `nn.Module` with the same contract (FrEIA-style, written down once here):

    y, logdet = layer(x, ...)        # logdet: (B,), log|det dy/dx| per sample
    x, logdet = layer.inverse(y, ...)   # exact inverse; its logdet is the negative of forward's

No layer knows its neighbours; containers sum log-dets and reverse the order for the inverse.
A flow step (`FlowStep`, and the conditional steps of `fullglow.conditional`) is also a
`ChainStep` (`fullglow.layers.reversible`): a step of a chain over one or more streams, with one
memory-saving backward pass (rebuild the input from the output, then backpropagate) for all.
"""

from fullglow.layers.actnorm import ActNorm
from fullglow.layers.coupling import (
    COUPLINGS,
    AdditiveCoupling,
    AffineCoupling,
    CouplingNetwork,
    make_coupling,
)
from fullglow.layers.flow_step import FlowStep, StepTrace
from fullglow.layers.invconv import InvConv1x1
from fullglow.layers.nets import ConvNet, ZeroConv2d, set_bf16, set_channels_last
from fullglow.layers.priors import GaussianSplit, TopPrior
from fullglow.layers.reversible import ChainStep, run_chain
from fullglow.layers.squeeze import Squeeze, squeeze, unsqueeze

__all__ = [
    "ActNorm",
    "COUPLINGS",
    "AdditiveCoupling",
    "AffineCoupling",
    "ChainStep",
    "ConvNet",
    "CouplingNetwork",
    "FlowStep",
    "GaussianSplit",
    "InvConv1x1",
    "Squeeze",
    "StepTrace",
    "TopPrior",
    "ZeroConv2d",
    "make_coupling",
    "run_chain",
    "set_bf16",
    "set_channels_last",
    "squeeze",
    "unsqueeze",
]
