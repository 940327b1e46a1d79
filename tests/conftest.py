"""Shared test fixtures: a fixed seed for every test and one small built-in dataset per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset from the built-in generator, in the Cityscapes layout (64x128, 8 train, 4 val)."""
    from fullglow.data import synthesize_dataset

    root = tmp_path_factory.mktemp("synthetic")
    synthesize_dataset(root, n_train=8, n_val=4, size=(64, 128), seed=0)
    return root
