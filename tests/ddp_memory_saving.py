"""Memory-saving training of every flow model, run alone or under torchrun (imported by tests).

`python -m torch.distributed.run --nproc-per-node 2 tests/ddp_memory_saving.py DATA OUT` trains
each conditional flow with `fullglow.training.train(..., memory_saving=True)` into `OUT/<model>`,
and Glow (which `train` does not offer) by `glow_steps`, rank 0 saving its weights to
`OUT/glow.pt`. `test_ddp.py` compares both with one process on the same global batches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from fullglow import Glow, GlowConfig
from fullglow.training import TrainConfig, train
from test_training_support import tiny_config

FLOWS = ["fullglow", "cglow-v1", "cglow-v2", "dualglow"]


def flow_config(root: Path, model: str) -> TrainConfig:
    """Memory-saving, float64 (see test_ddp.py), global batch 4, 2 steps."""
    return tiny_config(
        root, model=model, batch_size=4, steps=2, dtype="float64", memory_saving=True, device="cpu"
    )


class _GlowLoss(nn.Module):
    """Glow's loss as a module's forward, the call DistributedDataParallel wraps."""

    def __init__(self, glow: Glow) -> None:
        super().__init__()
        self.glow = glow

    def forward(self, x: Tensor) -> Tensor:
        return self.glow.loss(x)


def glow_steps(steps: int = 2) -> dict[str, Tensor]:
    """Adam steps of a memory-saving Glow on global batches of 4, split over the ranks."""
    torch.manual_seed(0)
    glow = Glow(GlowConfig(image_size=(16, 16), n_blocks=2, n_flows=2, hidden_channels=8)).double()
    gen = torch.Generator().manual_seed(1)
    batches = [torch.rand(4, 3, 16, 16, generator=gen, dtype=torch.float64) for _ in range(steps)]
    glow.initialize(batches[0])
    glow.memory_saving = True
    world, rank = (dist.get_world_size(), dist.get_rank()) if dist.is_initialized() else (1, 0)
    loss = _GlowLoss(glow) if world == 1 else DistributedDataParallel(_GlowLoss(glow))
    optimizer = torch.optim.Adam(glow.parameters(), lr=1e-3)
    for batch in batches:
        optimizer.zero_grad()
        loss(batch.chunk(world)[rank]).backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in glow.state_dict().items()}


def main(root: Path, out: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        for model in FLOWS:
            train(flow_config(root, model), out / model)
        state = glow_steps()
        if dist.get_rank() == 0:
            torch.save(state, out / "glow.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
