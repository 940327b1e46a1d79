"""pix2pix's aligned Cityscapes (photo | JPEG colour label): snapping, clean-up, import, loader."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fullglow.cli import main
from fullglow.data import CityscapesDataset, PairedFolderDataset
from fullglow.data import pix2pix_import as importer
from fullglow.data.labels import (
    LABEL_BY_NAME,
    LABELS,
    colours_to_label_ids,
    label_ids_to_colours,
    label_ids_to_train_ids,
)
from fullglow.data.palette_snap import (
    PALETTE,
    SnapSettings,
    clean_snapped,
    near_class_edges,
    nearest_palette,
    snap_colour_label,
)
from fullglow.data.pix2pix_import import SUMMARY_FILE, import_aligned_pairs
from fullglow.data.resizing import resize_nearest, resize_photo
from fullglow.data.synthetic import render_frame
from fullglow.data.synthetic.dataset import frame_seeds
from fullglow.errors import UserInputError
from fullglow.metrics import SegmentationScores, confusion_matrix
from fullglow.training.batches import open_split
from fullglow.training.config import TrainConfig

SIDE = 128  # frames rendered at SIDE x 2 SIDE, squashed to SIDE x SIDE like pix2pix's
FRAMES = {"train": 4, "val": 2}


def _jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _save_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="JPEG", quality=75)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """Generated scenes as pix2pix's aligned JPEGs (photo | colour label, quality 75), and the
    true label ids of each split's frames in file order."""
    root = tmp_path_factory.mktemp("aligned")
    truth: dict[str, list[np.ndarray]] = {}
    for split, count in FRAMES.items():
        truth[split] = []
        for index in range(count):
            frame = render_frame((SIDE, 2 * SIDE), *frame_seeds(3, split, index))
            ids = resize_nearest(frame.label_ids, (SIDE, SIDE))
            photo = resize_photo(frame.photo, (SIDE, SIDE))
            pair = np.concatenate([photo, label_ids_to_colours(ids)], axis=1)
            _save_jpeg(root / split / f"{index + 1}.jpg", pair)
            truth[split].append(ids)
    return root, truth


@pytest.fixture(scope="module")
def imported(aligned, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "cityscapes"
    import_aligned_pairs(aligned[0], out, progress=False)
    return out


def _as_palette_ids(ids: np.ndarray) -> np.ndarray:
    """The ids a colour label can tell apart: shared colours collapse to their mapped id."""
    return colours_to_label_ids(label_ids_to_colours(ids))


def _agreement(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(overall, away from class edges) share of pixels where predicted ids equal true ids."""
    hits = total = hits_away = total_away = 0
    for predicted, true in pairs:
        same = predicted == _as_palette_ids(true)
        away = ~near_class_edges(true, radius=2)
        hits, total = hits + same.sum(), total + same.size
        hits_away, total_away = hits_away + (same & away).sum(), total_away + away.sum()
    return hits / total, hits_away / total_away


def test_import_agrees_with_the_true_labels_and_evaluates(aligned, imported):
    _, truth = aligned
    pairs, conf = [], torch.zeros(20, 20, dtype=torch.int64)
    for split, true_ids in truth.items():
        dataset = CityscapesDataset(imported, split)
        assert [r.stem for r in dataset.records] == [
            f"pix2pix_{k + 1:06d}_000019" for k in range(FRAMES[split])
        ]
        for index, true in enumerate(true_ids):
            pairs.append((dataset.load_label_ids(index), true))
            sample = dataset[index]
            true_train = torch.from_numpy(label_ids_to_train_ids(true)).long()
            # A pixel wrongly imported as not evaluated (255) counts as an extra class 19.
            predicted = torch.where(sample.train_ids == 255, 19, sample.train_ids)
            conf += confusion_matrix(predicted, true_train, num_classes=20)
            assert torch.equal(
                sample.label_colour,
                torch.from_numpy(label_ids_to_colours(pairs[-1][0])).permute(2, 0, 1) / 255,
            )
    overall, away = _agreement(pairs)
    # Measured at 128x128: 96.1% overall, 99.84% away from edges (2 px); 95.3% / 99.76% unclean.
    assert overall >= 0.95 and away >= 0.99, f"agreement {overall:.2%} overall, {away:.2%} away"
    scores = SegmentationScores.from_confusion(conf)
    hits = sum(
        (
            (label_ids_to_train_ids(p) == label_ids_to_train_ids(t))
            & (label_ids_to_train_ids(t) != 255)
        ).sum()
        for p, t in pairs
    )
    assert scores.pixel_accuracy == pytest.approx(hits / conf.sum().item())
    # Measured: pixel acc 96.5%, mIoU 65.3% (traffic lights and signs of 14 and 23 pixels are lost).
    assert scores.pixel_accuracy >= 0.95 and scores.mean_iou >= 0.6, scores.summary()


def test_clean_up_gains_over_snapping_alone(aligned):
    root, truth = aligned
    labels = [
        (np.asarray(Image.open(root / "train" / f"{k + 1}.jpg").convert("RGB"))[:, SIDE:], true)
        for k, true in enumerate(truth["train"])
    ]
    snap_only = SnapSettings(radius=0)
    alone = _agreement([(snap_colour_label(c, snap_only).label_ids, t) for c, t in labels])
    cleaned = _agreement([(snap_colour_label(c).label_ids, t) for c, t in labels])
    assert cleaned[0] > alone[0] + 0.005 and cleaned[1] >= alone[1], (alone, cleaned)


def test_exact_palette_colours_snap_like_the_table_and_shared_colours_map_as_stated():
    ids = np.array([[label.id for label in LABELS]], dtype=np.uint8)
    snapped = snap_colour_label(label_ids_to_colours(ids))
    assert np.array_equal(snapped.label_ids, colours_to_label_ids(label_ids_to_colours(ids)))
    assert not snapped.changed.any() and not snapped.rgb_distance.any()
    by_id = dict(zip(ids[0].tolist(), snapped.label_ids[0].tolist(), strict=True))
    assert all(by_id[i] == 0 for i in range(5))  # black: unlabeled
    assert by_id[LABEL_BY_NAME["polegroup"].id] == LABEL_BY_NAME["pole"].id  # grey: pole
    blocks = np.repeat(np.repeat(ids, 16, axis=0), 16, axis=1)  # 16x16 blocks survive JPEG
    lossy = snap_colour_label(_jpeg(label_ids_to_colours(blocks)))
    inner = ~near_class_edges(blocks, radius=3)
    assert np.array_equal(lossy.label_ids[inner], _as_palette_ids(blocks)[inner])


def test_clean_up_redecides_only_unreliable_pixels_among_window_classes():
    road, car, bus = (LABEL_BY_NAME[n].colour for n in ("road", "car", "bus"))
    colours = np.zeros((5, 6, 3), dtype=np.uint8)
    colours[:, :3], colours[:, 3:] = road, car
    # Between car (0, 0, 142) and road (128, 64, 128), nearest to bus (0, 60, 100), a class
    # that occurs nowhere near; the clean-up picks the nearer class of its window.
    colours[2, 3] = (20, 50, 110)
    index, distance = nearest_palette(colours, 8.0)
    assert PALETTE[index[2, 3]].tolist() == list(bus)
    settings = SnapSettings(threshold=5.0, radius=1)
    assert distance[2, 3] > settings.threshold and (distance[np.arange(5) != 2] < 1).all()
    cleaned = clean_snapped(colours, index, distance, settings)
    assert PALETTE[cleaned[2, 3]].tolist() == list(car)
    cleaned[2, 3] = index[2, 3]
    assert np.array_equal(cleaned, index)
    assert np.array_equal(clean_snapped(colours, index, distance, SnapSettings(radius=0)), index)
    alone = np.full((1, 1, 3), (20, 50, 110), dtype=np.uint8)  # no reliable neighbour: kept
    index, distance = nearest_palette(alone, 8.0)
    assert np.array_equal(clean_snapped(alone, index, distance, settings), index)


def test_summary_counts_the_noise_and_the_cli_prints_it(aligned, tmp_path, capsys):
    root, _ = aligned
    out = tmp_path / "out"
    assert main(["import-pix2pix", str(root), str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads((out / SUMMARY_FILE).read_text())
    assert written["direction"] == "BtoA" and written["settings"]["radius"] == 2
    for noise in written["splits"]:
        split = noise["split"]
        snaps = [
            snap_colour_label(np.asarray(Image.open(p).convert("RGB"))[:, SIDE:])
            for p in sorted((root / split).glob("*.jpg"))
        ]
        assert noise["frames"] == FRAMES[split] and noise["pixels"] == FRAMES[split] * SIDE**2
        assert noise["exact"] == sum(int((s.rgb_distance == 0).sum()) for s in snaps)
        assert noise["far"] == sum(int((s.rgb_distance > 30).sum()) for s in snaps)
        assert noise["cleaned"] == sum(int(s.changed.sum()) for s in snaps) > 0
        assert f"| {split} | {FRAMES[split]} |" in printed


def test_label_on_the_left_with_direction_atob(aligned, imported, tmp_path):
    root, truth = aligned
    pair = np.asarray(Image.open(root / "val" / "1.jpg").convert("RGB"))
    swapped = tmp_path / "swapped"
    (swapped / "val").mkdir(parents=True)
    Image.fromarray(np.concatenate([pair[:, SIDE:], pair[:, :SIDE]], axis=1)).save(
        swapped / "val" / "1.png"
    )
    out = tmp_path / "out"
    import_aligned_pairs(swapped, out, direction="AtoB", progress=False)
    left = CityscapesDataset(out, "val")
    right = CityscapesDataset(imported, "val")
    assert np.array_equal(left.load_label_ids(0), right.load_label_ids(0))
    assert torch.equal(left[0].photo, right[0].photo)


def test_paired_loader_snaps_like_the_import(aligned, imported):
    root, _ = aligned
    paired = PairedFolderDataset(root, "val", direction="BtoA", cityscapes_palette=True)
    layout = CityscapesDataset(imported, "val")
    for index in range(len(paired)):
        got, want = paired[index], layout[index]
        assert torch.equal(got.train_ids, want.train_ids)
        assert torch.equal(got.label_colour, want.label_colour)
        assert torch.equal(got.boundary, want.boundary)
        assert torch.equal(got.photo, want.photo)
    small = PairedFolderDataset(
        root, "val", image_size=(64, 64), direction="BtoA", cityscapes_palette=True
    )[0]
    expected = resize_nearest(layout.load_label_ids(0), (64, 64))
    assert torch.equal(small.train_ids, torch.from_numpy(label_ids_to_train_ids(expected)).long())


def _aligned_folder(root: Path, sizes: dict[str, tuple[int, int]], suffix: str = ".jpg") -> Path:
    for name, (height, width) in sizes.items():
        path = root / "train" / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8)).save(path)
    return root


@pytest.mark.parametrize(
    ("sizes", "suffix", "message"),
    [
        ({"1": (8, 17)}, ".jpg", r"1\.jpg: width 17 is odd"),
        ({"1": (8, 16), "2": (8, 20)}, ".png", r"2\.png is 20x8 but .*1\.png is 16x8"),
        ({"1": (8, 16)}, ".bmp", r"train: no \.jpg or \.png images"),
        ({"1": (8, 16), "01": (8, 16)}, ".jpg", r"01\.jpg and 1\.jpg would both be .*000001"),
    ],
)
def test_not_aligned_pairs_is_a_one_line_error_and_writes_nothing(
    tmp_path, capsys, sizes, suffix, message
):
    source = _aligned_folder(tmp_path / "src", sizes, suffix)
    out = tmp_path / "out"
    with pytest.raises(UserInputError, match=message):
        import_aligned_pairs(source, out, progress=False)
    assert main(["import-pix2pix", str(source), str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("fullglow import-pix2pix: error:")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_no_split_folders(tmp_path):
    with pytest.raises(UserInputError, match="expected aligned pairs in .*train/ and .*val/"):
        import_aligned_pairs(tmp_path, tmp_path / "out", progress=False)


def test_interrupted_import_leaves_nothing(aligned, tmp_path, monkeypatch):
    written = []

    def failing_write(path: Path, array: np.ndarray) -> None:
        if len(written) == 7:
            raise KeyboardInterrupt
        written.append(path)
        Image.fromarray(array).save(path, format="PNG")

    monkeypatch.setattr(importer, "write_png", failing_write)
    with pytest.raises(KeyboardInterrupt):
        import_aligned_pairs(aligned[0], tmp_path / "out", progress=False)
    assert len(written) == 7 and list(tmp_path.iterdir()) == []


def test_training_reads_paired_jpeg_labels_snapped_to_the_palette(aligned, imported):
    root, _ = aligned
    config = TrainConfig(
        data=str(root), dataset="paired", direction="BtoA", cityscapes_palette=True, steps=1
    )
    dataset = open_split(config, "val", (SIDE, SIDE))
    layout = CityscapesDataset(imported, "val")
    assert torch.equal(dataset[0].label_colour, layout[0].label_colour)
    raw = open_split(dataclasses.replace(config, cityscapes_palette=False), "val", (SIDE, SIDE))
    assert not torch.equal(raw[0].label_colour, layout[0].label_colour)
    with pytest.raises(UserInputError, match="cityscapes_palette is for paired folders"):
        TrainConfig(data=str(root), cityscapes_palette=True, steps=1)
