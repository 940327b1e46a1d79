"""Batches from a DataLoader with worker processes have the documented shapes, types and ranges."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from fullglow.data import IGNORE_INDEX, NUM_CLASSES, CityscapesDataset, Sample


def test_dataloader_with_two_workers(synthetic_root):
    dataset = CityscapesDataset(synthetic_root, split="train", image_size=(32, 64), flip=True)
    loader = DataLoader(dataset, batch_size=3, num_workers=2, shuffle=True)
    batches = list(loader)
    assert [b.photo.shape[0] for b in batches] == [3, 3, 2]
    for batch in batches:
        assert isinstance(batch, Sample)
        n = batch.photo.shape[0]
        assert batch.photo.shape == batch.label_colour.shape == (n, 3, 32, 64)
        assert batch.train_ids.shape == (n, 32, 64) and batch.boundary.shape == (n, 1, 32, 64)
        assert (
            batch.photo.dtype == batch.label_colour.dtype == batch.boundary.dtype == torch.float32
        )
        assert batch.train_ids.dtype == torch.int64
        for images in (batch.photo, batch.label_colour):
            assert images.min() >= 0.0 and images.max() <= 1.0
        valid = (batch.train_ids < NUM_CLASSES) | (batch.train_ids == IGNORE_INDEX)
        assert valid.all() and (batch.train_ids >= 0).all()
        assert set(batch.boundary.unique().tolist()) <= {0.0, 1.0}
