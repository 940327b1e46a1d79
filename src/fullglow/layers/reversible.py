"""Chains of invertible steps, with an optional memory-saving (invertible backprop) mode.

A `ChainStep` maps a tuple of streams (one for Glow, the source and the target image for
Full-Glow) to new streams plus one log-det per stream, given constant `context` tensors (side
information, a resized condition). Because every step is exactly invertible, the backward pass does
not need the activations of the forward pass: `run_chain(..., memory_saving=True)` keeps only the
chain's outputs, and in the backward pass walks the steps in reverse, rebuilding each step's input
from its output and backpropagating through that one step (Gomez et al. 2017, "The reversible
residual network"). Peak memory is then that of a single step, whatever the number of steps;
gradients equal the plain mode's up to float rounding.

`ChainStep.reverse` does that per step. Its default inverts the step and recomputes it with
gradients (a step's forward twice, one inverse); flow steps override it so that each coupling
network runs once, serving both the inverse and the gradient (`AffineCoupling.reverse`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

States = tuple[Tensor, ...]


@dataclass(frozen=True)
class StepGradients:
    """A step rebuilt from its outputs in the backward pass.

    `inputs`: the reconstructed inputs (detached); `grad_inputs`: the loss gradient with respect to
    them; `grads`: `(tensor, gradient)` pairs for the step's parameters and context tensors
    (`None` where a tensor does not influence the outputs).
    """

    inputs: States
    grad_inputs: States
    grads: list[tuple[Tensor, Tensor | None]]


def zeros_if_none(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad


def trainable(module: nn.Module) -> list[Tensor]:
    return [p for p in module.parameters() if p.requires_grad]


def recompute_gradients(
    forward: Callable[[States], tuple[States, States]],
    inputs: States,
    grad_outputs: States,
    grad_logdets: States,
    wrt: Sequence[Tensor],
) -> tuple[States, list[Tensor | None]]:
    """Run `forward` on fresh leaves equal to `inputs` and backpropagate the given gradients.

    Returns the gradients with respect to the inputs and to each tensor of `wrt`.
    """
    leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
    with torch.enable_grad():
        outputs, logdets = forward(leaves)
        found = torch.autograd.grad(
            (*outputs, *logdets),
            (*leaves, *wrt),
            (*grad_outputs, *grad_logdets),
            allow_unused=True,
        )
    n = len(leaves)
    return tuple(zeros_if_none(g, x) for g, x in zip(found[:n], leaves, strict=True)), list(
        found[n:]
    )


class ChainStep(nn.Module):
    """Contract: `forward(states, context) -> (states, logdets)`, `inverse(states, context) -> states`.

    `logdets` holds one `(B,)` tensor per stream; `inverse` must invert `forward` exactly.
    """

    def forward(self, states: States, context: States) -> tuple[States, States]:
        raise NotImplementedError

    def inverse(self, states: States, context: States) -> States:
        raise NotImplementedError

    def reverse(
        self, outputs: States, grad_outputs: States, grad_logdets: States, context: States
    ) -> StepGradients:
        """Rebuild the inputs from `outputs` and backpropagate through the step (memory-saving)."""
        with torch.no_grad():
            inputs = self.inverse(outputs, tuple(c.detach() for c in context))
        wrt = trainable(self) + [c for c in context if c.requires_grad]
        grad_inputs, found = recompute_gradients(
            lambda xs: self(xs, context), inputs, grad_outputs, grad_logdets, wrt
        )
        return StepGradients(
            tuple(x.detach() for x in inputs), grad_inputs, list(zip(wrt, found, strict=True))
        )


def run_chain(
    steps: Sequence[ChainStep], states: States, context: States, memory_saving: bool = False
) -> tuple[States, States]:
    """Apply `steps` in order; return the final streams and the summed per-stream log-dets."""
    if memory_saving and torch.is_grad_enabled() and steps:
        params = [p for step in steps for p in step.parameters()]
        n = len(states)
        out = _ReversibleChain.apply(list(steps), n, len(context), *states, *context, *params)
        return tuple(out[:n]), tuple(out[n:])
    logdets: States | None = None
    for step in steps:
        states, step_logdets = step(states, context)
        logdets = (
            step_logdets
            if logdets is None
            else tuple(a + b for a, b in zip(logdets, step_logdets, strict=True))
        )
    if logdets is None:
        logdets = tuple(s.new_zeros(s.shape[0]) for s in states)
    return states, logdets


class _ReversibleChain(torch.autograd.Function):
    """Forward without storing activations; backward by `ChainStep.reverse`, step by step.

    The parameters are inputs only so that the outputs require grad; their gradients are
    accumulated inside `backward`, one step at a time, and `None` is returned for them.
    """

    @staticmethod
    def forward(ctx, steps: list[ChainStep], n_states: int, n_context: int, *tensors: Tensor):  # noqa: ANN001, ANN205
        states = tuple(t.detach() for t in tensors[:n_states])
        context = tuple(tensors[n_states : n_states + n_context])
        with torch.no_grad():
            states, logdets = run_chain(steps, states, tuple(c.detach() for c in context))
        ctx.steps = steps
        ctx.n_states = n_states
        ctx.save_for_backward(*states, *context)
        return (*states, *logdets)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # noqa: ANN001, ANN205
        n = ctx.n_states
        saved = ctx.saved_tensors
        states = tuple(s.detach() for s in saved[:n])
        context = tuple(c.detach().requires_grad_(c.requires_grad) for c in saved[n:])
        grad_states = tuple(zeros_if_none(g, s) for g, s in zip(grads[:n], states, strict=True))
        # Every step's log-det adds to the chain's, so each receives the chain's gradient.
        grad_logdets = tuple(
            zeros_if_none(g, s.new_zeros(s.shape[0]))
            for g, s in zip(grads[n:], states, strict=True)
        )
        context_grads: dict[int, Tensor] = {}
        for step in reversed(ctx.steps):
            result = step.reverse(states, grad_states, grad_logdets, context)
            param_grads: list[tuple[Tensor, Tensor]] = []
            for tensor, grad in result.grads:
                if grad is None:
                    continue
                if isinstance(tensor, nn.Parameter):
                    param_grads.append((tensor, grad))
                else:
                    key = id(tensor)
                    context_grads[key] = grad + context_grads[key] if key in context_grads else grad
            # Hand this step's parameter gradients to autograd now, so that they accumulate (and
            # DistributedDataParallel's hooks fire) step by step: holding them until the chain's
            # end would keep a copy of every step's gradients and make the peak grow with depth.
            if param_grads:
                tensors, grads_ = zip(*param_grads, strict=True)
                torch.autograd.backward(tensors, grads_)
            states, grad_states = result.inputs, result.grad_inputs
        n_params = sum(1 for step in ctx.steps for _ in step.parameters())
        return (
            None,
            None,
            None,
            *grad_states,
            *(context_grads.get(id(c)) for c in context),
            *([None] * n_params),
        )
