"""Seeds tied to the data, not to the loop: batch `b` of round `r` draws its noise from a generator
seeded with `derive_seed(seed, r, b)`, so a round is reproducible on its own and every temperature
of a sweep decodes the same standard-normal draws scaled by `T`.
"""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (NumPy's `SeedSequence`): nearby inputs, unrelated seeds."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def batch_generator(
    device: torch.device, seed: int, round_index: int, batch_index: int
) -> torch.Generator:
    """The generator of one batch of one round, on `device` (see the module docstring)."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, round_index, batch_index))
