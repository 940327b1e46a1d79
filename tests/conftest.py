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


@pytest.fixture(scope="session")
def tiny_segmenter(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A segmenter folder (width 4, 3 steps at 16x32) from `fullglow train-segmenter`."""
    from fullglow.cli import main

    segmenter = tmp_path_factory.mktemp("segmenter") / "segmenter"
    assert main([
        "train-segmenter", "--data", str(synthetic_root), "--out", str(segmenter),
        "--image-size", "16x32", "--steps", "3", "--width", "4", "--batch-size", "4",
        "--device", "cpu",
    ]) == 0  # fmt: skip
    return segmenter
