"""CityscapesDataset on the generated dataset (official layout) and on broken copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fullglow.data import IGNORE_INDEX, CityscapesDataset, Sample, validate_image_size
from fullglow.data.labels import label_ids_to_colours, label_ids_to_train_ids
from fullglow.errors import UserInputError


def _png(path: Path | None) -> np.ndarray:
    assert path is not None
    return np.asarray(Image.open(path))


@pytest.fixture
def copy_root(synthetic_root: Path, tmp_path: Path) -> Path:
    """A private copy of the session dataset that a test may break."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "data"))


def test_round_trip_at_file_size(synthetic_root):
    ds = CityscapesDataset(synthetic_root, split="train")
    assert len(ds) == 8 and len(CityscapesDataset(synthetic_root, split="val")) == 4
    record = ds.records[3]
    assert record.stem == f"{record.city}_000003_000019"
    assert record.photo_path.name == f"{record.stem}_leftImg8bit.png"
    sample = ds[3]
    assert isinstance(sample, Sample)
    ids = _png(record.label_ids_path)
    np.testing.assert_array_equal(ds.load_label_ids(3), ids)
    photo = torch.from_numpy(_png(record.photo_path).copy()).permute(2, 0, 1).float() / 255
    assert torch.equal(sample.photo, photo)
    colour = torch.from_numpy(label_ids_to_colours(ids)).permute(2, 0, 1).float() / 255
    assert torch.equal(sample.label_colour, colour)
    assert torch.equal(sample.train_ids, torch.from_numpy(label_ids_to_train_ids(ids)).long())


def test_boundaries_are_exactly_the_instance_edges(synthetic_root):
    ds = CityscapesDataset(synthetic_root, split="val")
    for index in range(len(ds)):
        instances = _png(ds.records[index].instance_path).astype(np.int64)
        boundary = ds[index].boundary[0].numpy().astype(bool)
        padded = np.pad(instances, 1, mode="edge")
        neighbours = [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
        differs = np.any([n != instances for n in neighbours], axis=0)
        np.testing.assert_array_equal(boundary, differs)
        things = instances >= 1000  # two cars side by side are told apart, not merged
        assert boundary[things].any()


def test_resize_keeps_labels_valid_and_photos_in_range(synthetic_root):
    ds = CityscapesDataset(synthetic_root, split="train", image_size=(24, 40))
    original = CityscapesDataset(synthetic_root, split="train")
    for index in range(3):
        sample = ds[index]
        assert sample.photo.shape == (3, 24, 40) and sample.train_ids.shape == (24, 40)
        assert sample.boundary.shape == (1, 24, 40)
        assert 0.0 <= sample.photo.min() and sample.photo.max() <= 1.0
        # nearest neighbour: every resized id and colour exists in the original
        present = set(original[index].train_ids.unique().tolist())
        assert set(sample.train_ids.unique().tolist()) <= present
        assert set(sample.boundary.unique().tolist()) <= {0.0, 1.0}
        colours = {tuple(c) for c in original[index].label_colour.flatten(1).T.tolist()}
        assert {tuple(c) for c in sample.label_colour.flatten(1).T.tolist()} <= colours


def test_flip_mirrors_every_part_alike(synthetic_root):
    plain = CityscapesDataset(synthetic_root, split="val")[0]
    flipping = CityscapesDataset(synthetic_root, split="val", flip=True)
    seen = set()
    for _ in range(12):
        sample = flipping[0]
        mirrored = torch.equal(sample.photo, plain.photo.flip(-1))
        assert all(
            torch.equal(a, b.flip(-1) if mirrored else b)
            for a, b in zip(sample, plain, strict=True)
        )
        seen.add(mirrored)
    assert seen == {True, False}


def test_missing_colour_and_instance_files_fall_back(copy_root):
    reference = CityscapesDataset(copy_root, split="val")[1]
    for path in (copy_root / "gtFine" / "val").glob("*/*_color.png"):
        path.unlink()
    for path in (copy_root / "gtFine" / "val").glob("*/*_instanceIds.png"):
        path.unlink()
    ds = CityscapesDataset(copy_root, split="val")
    assert ds.records[1].colour_path is None and ds.records[1].instance_path is None
    sample = ds[1]
    assert torch.equal(sample.label_colour, reference.label_colour)
    # without instances the boundary is the class edges: a subset of the instance edges
    assert torch.all(sample.boundary <= reference.boundary)
    assert sample.boundary.sum() > 0


def test_labels_only_tree(copy_root):
    shutil.rmtree(copy_root / "leftImg8bit")
    with pytest.raises(UserInputError, match="missing folder.*leftImg8bit"):
        CityscapesDataset(copy_root, split="train")
    ds = CityscapesDataset(copy_root, split="train", image_size=(32, 64), require_photos=False)
    assert len(ds) == 8 and ds.records[0].photo_path is None
    sample = ds[0]
    assert torch.equal(sample.photo, torch.zeros(3, 32, 64))
    assert sample.label_colour.max() > 0


def test_missing_folders_and_splits(copy_root, tmp_path):
    with pytest.raises(UserInputError, match="no such folder"):
        CityscapesDataset(tmp_path / "nowhere")
    with pytest.raises(UserInputError, match=r"gtFine/test.*splits there: train, val"):
        CityscapesDataset(copy_root, split="test")


def test_unpaired_files_are_listed_with_their_count(copy_root):
    labels = sorted((copy_root / "gtFine" / "train").glob("*/*_labelIds.png"))
    for path in labels[:7]:
        path.unlink()
    sorted((copy_root / "leftImg8bit" / "val").glob("*/*.png"))[0].unlink()
    with pytest.raises(UserInputError, match=r"7 photos without .*000000_000019.*\(2 more\)"):
        CityscapesDataset(copy_root, split="train")
    with pytest.raises(UserInputError, match=r"1 label maps without .*synthval_000000_000019"):
        CityscapesDataset(copy_root, split="val")


def test_truncated_image_names_the_file(copy_root):
    ds = CityscapesDataset(copy_root, split="train")
    path = ds.records[2].photo_path
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserInputError, match=f"{path.name}: cannot read the image"):
        ds[2]
    path.write_bytes(b"not an image at all")
    with pytest.raises(UserInputError, match=f"{path.name}: cannot read the image"):
        ds[2]


def test_label_ids_outside_the_table(copy_root):
    ds = CityscapesDataset(copy_root, split="train")
    path = ds.records[0].label_ids_path
    ids = np.asarray(Image.open(path)).copy()
    ids[0, :3] = [34, 77, 34]
    Image.fromarray(ids).save(path)
    with pytest.raises(UserInputError, match=f"{path.name}: label ids outside .*34, 77"):
        ds[0]


def test_mismatched_sizes_and_colour_images_as_label_ids(copy_root):
    ds = CityscapesDataset(copy_root, split="train")
    photo_path = ds.records[1].photo_path
    Image.open(photo_path).resize((60, 30)).save(photo_path)
    with pytest.raises(UserInputError, match=f"{photo_path.name}: size 60x30 .* differs"):
        ds[1]
    label_path = ds.records[2].label_ids_path
    shutil.copy(ds.records[2].colour_path, label_path)
    with pytest.raises(UserInputError, match=f"{label_path.name}: expected a single-channel"):
        ds[2]


def test_validate_image_size():
    validate_image_size((256, 512), 16, "--size")
    with pytest.raises(UserInputError, match=r"--size: image size 100x64 .* by 16 .* 112x64"):
        validate_image_size((100, 64), 16, "--size")


def test_train_ids_only_hold_classes_or_ignore(synthetic_root):
    sample = CityscapesDataset(synthetic_root, split="train", image_size=(32, 64))[5]
    values = set(sample.train_ids.unique().tolist())
    assert values <= set(range(19)) | {IGNORE_INDEX}
