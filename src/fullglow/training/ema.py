"""An exponential moving average of a model's weights (`TrainConfig.ema`, `fullglow train --ema`).

After every optimizer step that was taken, each floating-point entry `w` of the model's state
dict moves its average `a` by

    a <- decay * a + (1 - decay) * w,

starting from the weights the first step starts from (after the data-dependent initialisation).
Integer entries are copied. The average is saved in the checkpoint beside the raw weights
(`"ema"`) and is what `load_trained_model` loads, hence what sampling and evaluation use, as in
DiT and most image generators.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class WeightAverage:
    """`a <- decay * a + (1 - decay) * w` over a module's state dict; `decay` in (0, 1)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.average = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """One step of the average towards `module`'s current weights."""
        for key, value in module.state_dict().items():
            if value.is_floating_point():
                self.average[key].lerp_(value, 1.0 - self.decay)
            else:
                self.average[key].copy_(value)

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged weights, a state dict of the module."""
        return self.average

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state.keys() != self.average.keys():
            raise ValueError("the saved weight average does not match the model's weights")
        for key, value in state.items():
            self.average[key].copy_(value)
