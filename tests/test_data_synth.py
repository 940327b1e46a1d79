"""The built-in street-scene generator and `fullglow synth-data`."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from PIL import Image

from fullglow.cli import main
from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.data.labels import (
    LABEL_BY_NAME,
    NUM_CLASSES,
    THING_IDS,
    check_label_ids,
    label_ids_to_train_ids,
)
from fullglow.data.synthetic import SyntheticFrame, render_frame
from fullglow.data.synthetic import dataset as dataset_module
from fullglow.data.synthetic.camera import Camera, sample_camera
from fullglow.data.synthetic.dataset import frame_seeds
from fullglow.data.synthetic.layout import Layout, sample_layout
from fullglow.data.synthetic.things import TrainCar, TwoWheeler
from fullglow.errors import UserInputError

SIZE = (64, 128)
RIDER, BICYCLE, MOTORCYCLE, TRAIN = (
    LABEL_BY_NAME[name].id for name in ("rider", "bicycle", "motorcycle", "train")
)


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


class _Scene(NamedTuple):
    frame: SyntheticFrame
    layout: Layout
    camera: Camera


@pytest.fixture(scope="module")
def scenes() -> list[_Scene]:
    """40 frames at `SIZE` with the layouts they were drawn from (the layout's stream starts with
    the camera, as in `render_frame`)."""
    result = []
    for index in range(40):
        layout_seed, style_seed = frame_seeds(0, "train", index)
        rng = np.random.default_rng(layout_seed)
        camera = sample_camera(rng, SIZE)
        layout = sample_layout(rng, camera)
        result.append(_Scene(render_frame(SIZE, layout_seed, style_seed), layout, camera))
    return result


def test_every_train_class_appears(scenes):
    """All 19 evaluated classes occur; riders, two-wheelers and trains in some frames, trains in
    a minority of them."""
    frames_with = np.zeros(256, dtype=int)
    for scene in scenes:
        frames_with += (
            np.bincount(label_ids_to_train_ids(scene.frame.label_ids).ravel(), minlength=256) > 0
        )
    assert (frames_with[:NUM_CLASSES] > 0).all(), frames_with[:NUM_CLASSES]
    for name in ("rider", "motorcycle", "bicycle", "train"):
        assert frames_with[LABEL_BY_NAME[name].train_id] >= 3, name
    assert frames_with[LABEL_BY_NAME["train"].train_id] < len(scenes) / 3  # a minority


def _grow(mask: np.ndarray) -> np.ndarray:
    """`mask` and its 8 neighbours of every pixel."""
    padded = np.pad(mask, 1)
    height, width = mask.shape
    return np.any(
        [padded[i : i + height, j : j + width] for i in range(3) for j in range(3)], axis=0
    )


def _reached(region: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The pixels of `region` joined (through 8-neighbours inside `region`) to a pixel next to
    `seeds`."""
    reached = region & _grow(seeds)
    while True:
        grown = region & _grow(reached)
        if (grown == reached).all():
            return reached
        reached = grown


def test_reached_follows_connectivity():
    region = np.zeros((5, 7), bool)
    region[1, 1:3] = region[2, 3] = True  # a diagonal step stays connected
    region[1, 5:7] = True  # a separate island
    seeds = np.zeros_like(region)
    seeds[0, 0] = True
    np.testing.assert_array_equal(_reached(region, seeds), region & (np.arange(7) < 5))


def test_riders_touch_what_they_ride(scenes):
    """Every pixel of a rider is joined, through its own pixels, to its own bicycle's or
    motorcycle's."""
    riders = 0
    for scene in scenes:
        instances = scene.frame.instance_ids
        for thing in scene.layout.things:
            if not isinstance(thing, TwoWheeler) or thing.rider is None:
                continue
            rider = instances == thing.rider.instance
            riders += int(rider.any())
            reached = _reached(rider, instances == thing.instance)
            np.testing.assert_array_equal(reached, rider)
    assert riders >= 5


def _owners(thing: object) -> list[tuple[int, int]]:
    """`(instance id, label id)` of the riders, two-wheelers and trains a layout thing draws."""
    if isinstance(thing, TwoWheeler):
        rider = [] if thing.rider is None else [(thing.rider.instance, RIDER)]
        return [(thing.instance, thing.label), *rider]
    if isinstance(thing, TrainCar):
        return [(thing.instance, TRAIN)]
    return []


def test_new_instances_follow_cityscapes_per_object(scenes):
    """Riders, two-wheelers and trains carry `label * 1000 + k` with k different for every object
    (the cars of a train share theirs), and each id's pixels lie where its object projects."""
    margin = 2.0  # pixels: thin rods are drawn at least a pixel thick
    racks = 0
    for scene in scenes:
        boxes: dict[int, list[tuple[float, float, float, float]]] = {}
        objects: list[int] = []
        for thing in scene.layout.things:
            for instance, label in _owners(thing):
                assert instance // 1000 == label
                if instance not in boxes:
                    objects.append(instance)
                boxes.setdefault(instance, []).extend(
                    extent.on_screen(scene.camera) for extent in thing.extents()
                )
        trains = {t.instance for t in scene.layout.things if isinstance(t, TrainCar)}
        two_wheelers = [t for t in scene.layout.things if isinstance(t, TwoWheeler)]
        assert len(objects) == len(two_wheelers) + len(trains) + sum(
            t.rider is not None for t in two_wheelers
        )  # no two objects share an id
        ids = scene.frame.instance_ids.astype(np.int64)
        shown = np.unique(ids[np.isin(scene.frame.label_ids, [RIDER, BICYCLE, MOTORCYCLE, TRAIN])])
        assert set(shown.tolist()) <= set(boxes), "pixels of a new class that no object drew"
        for instance in shown.tolist():
            rows, cols = np.nonzero(ids == instance)
            u0, _, v0, _ = np.min(boxes[instance], axis=0) - margin
            _, u1, _, v1 = np.max(boxes[instance], axis=0) + margin
            assert u0 <= cols.min() + 0.5 and cols.max() + 0.5 <= u1, instance
            assert v0 <= rows.min() + 0.5 and rows.max() + 0.5 <= v1, instance
        racks += (shown // 1000 == BICYCLE).sum() >= 2
    assert racks >= 1  # several bicycles side by side, each its own instance


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
