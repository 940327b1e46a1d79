"""Shared pieces of the training tests: a tiny configuration and checkpoint readers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fullglow.training import TrainConfig
from fullglow.training.checkpoints import CheckpointStore, load_checkpoint

TINY_SIZE = (16, 32)


def tiny_config(root: Path, **changes: object) -> TrainConfig:
    """Full-Glow, tiny preset (2 blocks x 2 steps, 16 hidden channels) at 16x32, batch 2, no
    validation, samples or periodic checkpoints unless asked."""
    values: dict[str, object] = {
        "model": "fullglow",
        "preset": "tiny",
        "data": str(root),
        "image_size": TINY_SIZE,
        "batch_size": 2,
        "steps": 4,
        "lr": 1e-3,
        "val_every": 0,
        "sample_every": 0,
        "checkpoint_every": 0,
        "log_every": 1,
    }
    values.update(changes)
    return TrainConfig(**values)


def latest_checkpoint(run_dir: Path) -> dict:
    path = CheckpointStore(run_dir, keep_last=1).latest()
    assert path is not None, f"no checkpoint in {run_dir}"
    return load_checkpoint(path)


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), atol=atol, rtol=0), (
            f"{key}: max difference {(a[key].double() - b[key].double()).abs().max():.3g}"
        )


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core machine, two threads of tiny ops mostly wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
