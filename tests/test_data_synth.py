"""The built-in street-scene generator and `fullglow synth-data`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fullglow.cli import main
from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.data.labels import LABEL_BY_NAME, THING_IDS, check_label_ids, label_ids_to_train_ids
from fullglow.data.synthetic import dataset as dataset_module
from fullglow.data.synthetic import render_frame
from fullglow.data.synthetic.dataset import frame_seeds
from fullglow.errors import UserInputError

SIZE = (64, 128)


def _frame(split: str, index: int):
    return render_frame(SIZE, *frame_seeds(0, split, index))


def test_files_are_the_frames_of_the_seed(synthetic_root):
    """Generator -> files -> loader gives back exactly what the generator made (deterministic)."""
    ds = CityscapesDataset(synthetic_root, split="val")
    for index in range(len(ds)):
        frame = _frame("val", index)
        record = ds.records[index]
        np.testing.assert_array_equal(np.asarray(Image.open(record.photo_path)), frame.photo)
        np.testing.assert_array_equal(ds.load_label_ids(index), frame.label_ids)
        instances = np.asarray(Image.open(record.instance_path))
        np.testing.assert_array_equal(instances, frame.instance_ids)
    assert not np.array_equal(_frame("val", 0).photo, _frame("val", 1).photo)
    assert not np.array_equal(_frame("train", 0).label_ids, _frame("val", 0).label_ids)


def test_instance_ids_follow_cityscapes(synthetic_root):
    for index in range(4):
        frame = _frame("train", index)
        ids, instances = frame.label_ids.astype(np.int64), frame.instance_ids.astype(np.int64)
        check_label_ids(frame.label_ids)
        thing = np.isin(ids, list(THING_IDS))
        np.testing.assert_array_equal(instances[thing] // 1000, ids[thing])
        np.testing.assert_array_equal(instances[~thing], ids[~thing])


def test_scenes_hold_the_street_classes():
    counts: dict[str, int] = {}
    for index in range(8):
        ids = _frame("train", index).label_ids
        for name in ("road", "sidewalk", "building", "sky", "car", "person", "pole", "vegetation"):
            counts[name] = counts.get(name, 0) + int((ids == LABEL_BY_NAME[name].id).any())
        assert (ids == LABEL_BY_NAME["road"].id).mean() > 0.15
    assert counts["road"] == counts["sky"] == 8
    assert min(counts.values()) >= 3, counts


def test_one_label_map_admits_many_photos():
    layout = [7, 7, 7]
    first = render_frame(SIZE, layout, [1])
    second = render_frame(SIZE, layout, [2])
    np.testing.assert_array_equal(first.label_ids, second.label_ids)
    np.testing.assert_array_equal(first.instance_ids, second.instance_ids)
    difference = np.abs(first.photo.astype(float) - second.photo.astype(float)).mean()
    assert difference > 10.0


def test_photo_colours_tell_the_classes_apart():
    """A per-pixel Gaussian classifier on colour and image row, fitted on 8 frames, beats
    always answering the most frequent class on 4 other frames by a wide margin."""

    def pixels(split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        features, targets = [], []
        rows = np.broadcast_to(np.linspace(0, 1, SIZE[0])[:, None, None], (*SIZE, 1))
        for index in range(count):
            frame = _frame(split, index)
            features.append(np.concatenate([frame.photo / 255.0, rows], -1).reshape(-1, 4))
            targets.append(label_ids_to_train_ids(frame.label_ids).ravel())
        return np.concatenate(features), np.concatenate(targets)

    x, y = pixels("train", 8)
    x_val, y_val = pixels("val", 4)
    classes = [c for c in range(19) if (y == c).sum() > 20]
    mean = np.stack([x[y == c].mean(0) for c in classes])
    std = np.stack([x[y == c].std(0) + 1e-3 for c in classes])
    prior = np.log([(y == c).mean() for c in classes])
    log_p = -(0.5 * ((x_val[:, None] - mean) / std) ** 2 + np.log(std)).sum(-1) + prior
    predicted = np.array(classes)[log_p.argmax(1)]
    valid = y_val != 255
    accuracy = (predicted[valid] == y_val[valid]).mean()
    majority = np.bincount(y_val[valid]).max() / valid.sum()
    assert accuracy > majority + 0.15, (accuracy, majority)


def test_refuses_non_empty_output_and_overwrites_on_request(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not empty.*--overwrite"):
        synthesize_dataset(out, n_train=1, n_val=1, size=(16, 32), seed=0, progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    synthesize_dataset(
        out, n_train=1, n_val=1, size=(16, 32), seed=0, progress=False, overwrite=True
    )
    assert not (out / "keep.txt").exists()
    assert len(CityscapesDataset(out, split="train")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return render_frame(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "render_frame", failing)
    with pytest.raises(KeyboardInterrupt):
        synthesize_dataset(
            tmp_path / "out", n_train=3, n_val=0, size=(16, 32), seed=0, progress=False
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 0, "n_val": 0}, "not both 0"),
        ({"n_train": -1, "n_val": 1}, "n_train=-1"),
        ({"size": (8, 64)}, "too small"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    arguments = {"n_train": 1, "n_val": 1, "size": (16, 32), "seed": 0, **kwargs}
    with pytest.raises(UserInputError, match=message):
        synthesize_dataset(tmp_path / "out", progress=False, **arguments)


def test_cli(tmp_path: Path, capsys):
    out = tmp_path / "data"
    argv = [
        "synth-data",
        str(out),
        "--n-train",
        "2",
        "--n-val",
        "1",
        "--size",
        "16x32",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    sample = CityscapesDataset(out, split="val")[0]
    assert sample.photo.shape == (3, 16, 32)
    expected = render_frame((16, 32), *frame_seeds(3, "val", 0))
    np.testing.assert_array_equal(
        CityscapesDataset(out, split="val").load_label_ids(0), expected.label_ids
    )
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
