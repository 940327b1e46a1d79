"""Invertible steps, the chains that run them, and memory-saving (invertible) backprop.

A `ChainStep` maps a tuple of streams (one for Glow, the source and the target image for
Full-Glow) to new streams plus one log-det `(B,)` per stream, given constant `context` tensors
(a condition, side information, a source Glow's trace). Every invertible step implements

    forward_chain(states, context) -> (states, logdets)
    inverse_chain(states, context) -> states          # exact inverse of forward_chain

and inherits one protocol for the memory-saving backward pass, `backprop`: rebuild the step's
inputs from its outputs, then backpropagate through the step alone (Gomez et al. 2017, "The
reversible residual network"). `run_chain(..., memory_saving=True)` wraps each step in one
`torch.autograd.Function` that stores nothing of the forward pass but the last step's outputs;
its backward rebuilds the step's inputs from its outputs and *returns* ordinary gradients for
the step's inputs, context and parameters (all three are inputs of the Function), as memcnn's
`InvertibleModuleWrapper` does. The autograd engine, gradient accumulation and
DistributedDataParallel's hooks therefore see nothing unusual; peak activation memory is that of
one step, whatever the depth; gradients equal the plain mode's up to float rounding.

`backprop` runs each step's convolutional networks (`fullglow.layers.nets.ConvNet`) once: the
inverse records their outputs on the rebuilt inputs, and the forward recomputation that the
gradient needs replays them (`NetworkRecorder`), so a coupling network serves the inverse and the
gradient alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fullglow.layers.nets import NetworkRecorder

States = tuple[Tensor, ...]


@dataclass(frozen=True)
class StepGradients:
    """A step rebuilt from its outputs: its `inputs` (detached), and the loss gradients with
    respect to them, to its `context` tensors and to its trainable parameters (`None` where a
    tensor does not influence the outputs)."""

    inputs: States
    grad_inputs: States
    grad_context: tuple[Tensor | None, ...]
    grad_params: tuple[Tensor | None, ...]


def zeros_if_none(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad


def trainable(module: nn.Module) -> list[Tensor]:
    return [p for p in module.parameters() if p.requires_grad]


class ChainStep(nn.Module):
    """Contract: `forward_chain(states, context) -> (states, logdets)` and its exact inverse
    `inverse_chain(states, context) -> states`; `logdets` holds one `(B,)` tensor per stream."""

    def forward_chain(self, states: States, context: States) -> tuple[States, States]:
        raise NotImplementedError

    def inverse_chain(self, states: States, context: States) -> States:
        raise NotImplementedError

    def backprop(
        self, outputs: States, grad_outputs: States, grad_logdets: States, context: States
    ) -> StepGradients:
        """Rebuild the inputs from `outputs`, recompute the step on them and backpropagate the
        gradients of its outputs and log-dets (the memory-saving backward of one step)."""
        recorder = NetworkRecorder(self)
        with recorder.recording(), torch.no_grad():
            inputs = self.inverse_chain(outputs, tuple(c.detach() for c in context))
        leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
        context = tuple(c.detach().requires_grad_(c.requires_grad) for c in context)
        params = trainable(self)
        with recorder.replaying(), torch.enable_grad():
            recomputed, logdets = self.forward_chain(leaves, context)
        recorder.check_replayed()
        wrt = [*leaves, *(c for c in context if c.requires_grad), *params]
        found = iter(
            torch.autograd.grad(
                (*recomputed, *logdets), wrt, (*grad_outputs, *grad_logdets), allow_unused=True
            )
        )
        grad_inputs = tuple(zeros_if_none(next(found), x) for x in leaves)
        grad_context = tuple(next(found) if c.requires_grad else None for c in context)
        return StepGradients(
            tuple(x.detach() for x in leaves), grad_inputs, grad_context, tuple(found)
        )


def run_chain(
    steps: Sequence[ChainStep],
    states: States,
    contexts: Sequence[States],
    memory_saving: bool = False,
) -> tuple[States, States]:
    """Apply `steps` in order, step `k` reading `contexts[k]`; return the final streams and the
    summed per-stream log-dets. `memory_saving` (while gradients are enabled) keeps only the
    last step's outputs and rebuilds the rest in the backward pass (see the module docstring)."""
    logdets: States | None = None
    reversible = memory_saving and torch.is_grad_enabled()
    links = [_Link() for _ in steps]
    for index, (step, context) in enumerate(zip(steps, contexts, strict=True)):
        if reversible:
            params = trainable(step)
            given = links[index - 1] if index else None
            own = links[index] if index < len(steps) - 1 else None
            n = len(states)
            out = _ReversibleStep.apply(
                step, given, own, n, len(context), *states, *context, *params
            )
            states, step_logdets = tuple(out[:n]), tuple(out[n:])
        else:
            states, step_logdets = step.forward_chain(states, context)
        logdets = (
            step_logdets
            if logdets is None
            else tuple(a + b for a, b in zip(logdets, step_logdets, strict=True))
        )
    if logdets is None:
        logdets = tuple(s.new_zeros(s.shape[0]) for s in states)
    return states, logdets


class _Link:
    """Hands one step's outputs, rebuilt by the next step's backward, to its own backward."""

    def __init__(self) -> None:
        self.states: States | None = None

    def take(self) -> States:
        if self.states is None:
            raise RuntimeError("a memory-saving chain must be backpropagated from its last step")
        states, self.states = self.states, None
        return states


class _ReversibleStep(torch.autograd.Function):
    """One step of a memory-saving chain: forward without a graph, backward by `backprop`.

    Inputs: the step, the link to which its backward hands the rebuilt inputs (`None` for the
    first step), the link from which it takes its outputs (`None` for the last step, which saves
    them), the numbers of streams and context tensors, then the streams, the context and the
    step's trainable parameters. Outputs: the streams, then the log-dets.
    """

    @staticmethod
    def forward(ctx, step, given, own, n_states, n_context, *tensors):  # noqa: ANN001, ANN205
        states = tuple(t.detach() for t in tensors[:n_states])
        context = tensors[n_states : n_states + n_context]
        with torch.no_grad():
            outputs, logdets = step.forward_chain(states, tuple(c.detach() for c in context))
        ctx.step, ctx.given, ctx.own, ctx.n_states = step, given, own, n_states
        ctx.save_for_backward(*context, *(outputs if own is None else ()))
        return (*outputs, *logdets)

    @staticmethod
    def backward(ctx, *grads):  # noqa: ANN001, ANN205
        n = ctx.n_states
        saved = ctx.saved_tensors
        n_context = len(saved) - (n if ctx.own is None else 0)
        context = saved[:n_context]
        outputs = (
            tuple(s.detach() for s in saved[n_context:]) if ctx.own is None else ctx.own.take()
        )
        grad_outputs = tuple(zeros_if_none(g, s) for g, s in zip(grads[:n], outputs, strict=True))
        # Every step's log-det adds to the chain's, so each receives the chain's gradient.
        grad_logdets = tuple(
            zeros_if_none(g, s.new_zeros(s.shape[0]))
            for g, s in zip(grads[n:], outputs, strict=True)
        )
        result = ctx.step.backprop(outputs, grad_outputs, grad_logdets, context)
        if ctx.given is not None:
            ctx.given.states = result.inputs
        return (
            None, None, None, None, None,
            *result.grad_inputs, *result.grad_context, *result.grad_params,
        )  # fmt: skip
