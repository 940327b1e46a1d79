"""Chains of invertible steps, with an optional memory-saving (invertible backprop) mode.

A `ChainStep` maps a tuple of streams (one for Glow, the source and the target image for
Full-Glow) to new streams plus one log-det per stream, given constant `context` tensors (side
information, a resized condition). Because every step is exactly invertible, the backward pass does
not need the activations of the forward pass: `run_chain(..., memory_saving=True)` keeps only the
chain's outputs, and in the backward pass walks the steps in reverse, reconstructs each step's input
from its output with `inverse`, recomputes that one step with gradients and backpropagates through
it (Gomez et al. 2017, "The reversible residual network"). Peak memory is then that of a single
step, whatever the number of steps; gradients equal the plain mode's up to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

States = tuple[Tensor, ...]


class ChainStep(nn.Module):
    """Contract: `forward(states, context) -> (states, logdets)`, `inverse(states, context) -> states`.

    `logdets` holds one `(B,)` tensor per stream; `inverse` must invert `forward` exactly.
    """

    def forward(self, states: States, context: States) -> tuple[States, States]:
        raise NotImplementedError

    def inverse(self, states: States, context: States) -> States:
        raise NotImplementedError


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
    """Forward without storing activations; backward by inversion and per-step recomputation."""

    @staticmethod
    def forward(ctx, steps: list[ChainStep], n_states: int, n_context: int, *tensors: Tensor):  # noqa: ANN001, ANN205
        states = tuple(t.detach() for t in tensors[:n_states])
        context = tuple(tensors[n_states : n_states + n_context])
        with torch.no_grad():
            states, logdets = run_chain(steps, states, tuple(c.detach() for c in context))
        ctx.steps = steps
        ctx.n_states = n_states
        ctx.n_context = n_context
        ctx.save_for_backward(*states, *context)
        return (*states, *logdets)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # noqa: ANN001, ANN205
        n = ctx.n_states
        saved = ctx.saved_tensors
        states = tuple(s.detach() for s in saved[:n])
        context = saved[n:]
        context_leaves = tuple(c.detach().requires_grad_(c.requires_grad) for c in context)
        grad_states = tuple(_zeros_if_none(g, s) for g, s in zip(grads[:n], states, strict=True))
        grad_logdets = tuple(
            _zeros_if_none(g, s.new_zeros(s.shape[0]))
            for g, s in zip(grads[n:], states, strict=True)
        )
        param_grads: list[Tensor | None] = []
        context_grads: list[Tensor | None] = [None] * len(context)
        for step in reversed(ctx.steps):
            with torch.no_grad():
                inputs = step.inverse(states, tuple(c.detach() for c in context))
            inputs = tuple(x.detach().requires_grad_(True) for x in inputs)
            step_params = [p for p in step.parameters() if p.requires_grad]
            wanted_context = [c for c in context_leaves if c.requires_grad]
            with torch.enable_grad():
                outputs, logdets = step(inputs, context_leaves)
                found = torch.autograd.grad(
                    (*outputs, *logdets),
                    (*inputs, *step_params, *wanted_context),
                    (*grad_states, *grad_logdets),
                    allow_unused=True,
                )
            grad_states = tuple(
                _zeros_if_none(g, x) for g, x in zip(found[:n], inputs, strict=True)
            )
            found_params = iter(found[n : n + len(step_params)])
            found_context = iter(found[n + len(step_params) :])
            # Parameters are collected per step in reverse; they are reordered below.
            param_grads[:0] = [
                next(found_params) if p.requires_grad else None for p in step.parameters()
            ]
            for i, c in enumerate(context_leaves):
                if c.requires_grad:
                    g = next(found_context)
                    if g is not None:
                        context_grads[i] = g if context_grads[i] is None else context_grads[i] + g
            states = tuple(x.detach() for x in inputs)
        return (None, None, None, *grad_states, *context_grads, *param_grads)


def _zeros_if_none(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad
