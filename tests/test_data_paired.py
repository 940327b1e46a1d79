"""PairedFolderDataset: pix2pix's aligned A|B images and A/, B/ folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fullglow.data import IGNORE_INDEX, PairedFolderDataset
from fullglow.errors import UserInputError


def _image(seed: int, height: int = 8, width: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def test_aligned_halves_and_direction(tmp_path):
    a, b = _image(1), _image(2)
    _write(tmp_path / "train" / "0001.png", np.concatenate([a, b], axis=1))
    forward = PairedFolderDataset(tmp_path, split="train")[0]
    assert torch.equal(forward.label_colour, _tensor(a)) and torch.equal(forward.photo, _tensor(b))
    assert torch.equal(forward.train_ids, torch.full((8, 12), IGNORE_INDEX))
    assert torch.equal(forward.boundary, torch.zeros(1, 8, 12))
    backward = PairedFolderDataset(tmp_path, split="train", direction="BtoA")[0]
    assert torch.equal(backward.label_colour, _tensor(b)) and torch.equal(
        backward.photo, _tensor(a)
    )


def test_folders_pair_by_name_not_by_order(tmp_path):
    for name, seed in (("x", 1), ("y", 2), ("z", 3)):
        _write(tmp_path / "A" / f"{name}.png", _image(seed))
        _write(
            tmp_path / "B" / f"{name}.jpg" if name == "y" else tmp_path / "B" / f"{name}.png",
            _image(seed + 10),
        )
    ds = PairedFolderDataset(tmp_path, image_size=(4, 6))
    assert [r.stem for r in ds.records] == ["x", "y", "z"]
    assert ds.records[1].b_path.name == "y.jpg"
    sample = ds[2]
    assert sample.photo.shape == (3, 4, 6) and sample.label_colour.shape == (3, 4, 6)
    full = PairedFolderDataset(tmp_path)[2]
    assert torch.equal(full.label_colour, _tensor(_image(3)))
    assert torch.equal(full.photo, _tensor(_image(13)))


def test_pix2pix_split_folders(tmp_path):
    _write(tmp_path / "A" / "val" / "1.png", _image(1))
    _write(tmp_path / "B" / "val" / "1.png", _image(2))
    assert len(PairedFolderDataset(tmp_path, split="val")) == 1
    _write(tmp_path / "A" / "val" / "1.jpg", _image(1))
    with pytest.raises(UserInputError, match="two images named '1'"):
        PairedFolderDataset(tmp_path, split="val")


def test_unmatched_names_are_listed_with_their_count(tmp_path):
    for k in range(7):
        _write(tmp_path / "A" / f"{k}.png", _image(k))
    _write(tmp_path / "B" / "0.png", _image(0))
    _write(tmp_path / "B" / "extra.png", _image(0))
    message = r"6 images in .*A have no image .*: 1, 2, 3, 4, 5, \.\.\. \(1 more\); 1 images in .*B .*extra"
    with pytest.raises(UserInputError, match=message):
        PairedFolderDataset(tmp_path)


def test_bad_aligned_inputs(tmp_path):
    _write(tmp_path / "odd" / "1.png", _image(0, width=13))
    with pytest.raises(UserInputError, match=r"1\.png: width 13 is odd"):
        PairedFolderDataset(tmp_path / "odd")[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="no images in"):
        PairedFolderDataset(tmp_path / "empty")
    with pytest.raises(UserInputError, match="no such folder"):
        PairedFolderDataset(tmp_path, split="missing")
    with pytest.raises(UserInputError, match="direction"):
        PairedFolderDataset(tmp_path / "odd", direction="AtoC")


def test_sizes_must_match_without_resize(tmp_path):
    _write(tmp_path / "A" / "1.png", _image(0))
    _write(tmp_path / "B" / "1.png", _image(0, height=10))
    with pytest.raises(UserInputError, match=r"1\.png is 12x8 but .*1\.png is 12x10"):
        PairedFolderDataset(tmp_path)[0]
    assert PairedFolderDataset(tmp_path, image_size=(8, 8))[0].photo.shape == (3, 8, 8)
