"""Learning-rate schedule: optional linear warm-up, then constant, then an optional linear decay."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def lr_factor(step: int, total_steps: int, warmup: int, decay: str, decay_start: float) -> float:
    """The multiplier of the base learning rate for optimisation step `step` (0-based).

    `min(1, (step + 1) / warmup)` during the warm-up; with `decay="linear"` (the reference
    code's constant-then-linear schedule) the rate stays constant until
    `t0 = decay_start * total_steps` and then falls linearly, reaching 0 at `total_steps`:
    `(total_steps - step) / (total_steps - t0)`.
    """
    factor = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    if decay == "linear":
        start = decay_start * total_steps
        if step >= start:
            factor *= max(0.0, (total_steps - step) / (total_steps - start))
    return factor


def make_scheduler(
    optimizer: Optimizer, total_steps: int, warmup: int, decay: str, decay_start: float
) -> LambdaLR:
    """A `LambdaLR` stepping `lr_factor` once per training step.

    The factor is a closure, not an object, so a checkpoint stores only the scheduler's position:
    a resumed run that trains longer decays over its new length.
    """

    def schedule(step: int) -> float:
        return lr_factor(step, total_steps, warmup, decay, decay_start)

    return LambdaLR(optimizer, schedule)
