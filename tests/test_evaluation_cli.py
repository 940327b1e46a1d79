"""End to end through the command line: train a tiny model and a segmenter, evaluate, compare,
sample, transfer; and the commands' errors on bad input."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from figure_cells import figure_cell
from fullglow.cli import main
from fullglow.data import CityscapesDataset
from fullglow.data.image_io import read_rgb
from fullglow.data.resizing import resize_photo
from fullglow.evaluation import compare as compare_module
from fullglow.synthesis.images import to_uint8
from fullglow.synthesis.sheet import GAP
from fullglow.training import TrainConfig, train

SIZE = (16, 32)


@pytest.fixture(scope="module")
def trained(
    synthetic_root: Path, tiny_segmenter: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A Full-Glow run trained for two steps, and a segmenter trained for three, at 16x32."""
    folder = tmp_path_factory.mktemp("e2e")
    config = TrainConfig(
        model="fullglow", preset="tiny", image_size=SIZE, data=str(synthetic_root), steps=2,
        batch_size=4, val_every=0, sample_every=0, log_every=1,
    )  # fmt: skip
    train(config, folder / "run")
    return folder / "run", tiny_segmenter


EVALUATE_OPTIONS = [
    "--temperatures", "0.0,1.0", "--rounds", "2", "--bpd-draws", "1", "--batch-size", "4",
    "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def evaluated(
    trained: tuple[Path, Path], synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the trained run with the RUN/eval/ that `fullglow evaluate` writes (read-only:
    a test that changes it works on its own copy)."""
    run, segmenter = trained
    copy = tmp_path_factory.mktemp("evaluated") / "run"
    shutil.copytree(run, copy)
    assert main([
        "evaluate", "--run", str(copy), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), *EVALUATE_OPTIONS,
    ]) == 0  # fmt: skip
    return copy


def _scores_in_range(scores: dict, diverged: int | None = 0) -> bool:
    metrics = {"pixel_accuracy", "class_accuracy", "mean_iou"}
    return (
        set(scores) == {*metrics, "diverged"}
        and scores["diverged"] == diverged
        and all(0.0 <= scores[name] <= 1.0 for name in metrics)
    )


def test_evaluate_writes_a_complete_metrics_json(
    trained: tuple[Path, Path],
    synthetic_root: Path,
    capsys: pytest.CaptureFixture,
    tmp_path: Path,
) -> None:
    run, segmenter = trained
    run = shutil.copytree(run, tmp_path / "run")
    assert main([
        "evaluate", "--run", str(run), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), *EVALUATE_OPTIONS,
    ]) == 0  # fmt: skip
    assert "| Full-Glow |" in capsys.readouterr().out
    assert sorted(p.name for p in (run / "eval").iterdir()) == [
        "metrics.json", "samples.png", "table1.md", "table2.md",
    ]  # fmt: skip
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["model"] == "fullglow"
    assert metrics["split"] == "val" and metrics["n_images"] == 4
    assert metrics["image_size"] == list(SIZE)
    assert math.isfinite(metrics["bpd"]) and 0 < metrics["bpd"] < 16
    assert metrics["segmenter"] == str(segmenter.resolve())
    assert [t["temperature"] for t in metrics["temperatures"]] == [0.0, 1.0]
    for entry in metrics["temperatures"]:
        assert len(entry["rounds"]) == 2
        assert all(_scores_in_range(r) for r in entry["rounds"])
        for name in ("pixel_accuracy", "class_accuracy", "mean_iou"):
            values = [r[name] for r in entry["rounds"]]
            assert entry[name]["mean"] == pytest.approx(sum(values) / 2)
            assert entry[name]["std"] == pytest.approx(abs(values[0] - values[1]) / 2)
    zero = metrics["temperatures"][0]
    assert zero["rounds"][0] == zero["rounds"][1]  # T = 0 draws nothing
    truth = dict(metrics["ground_truth"])
    # A segmenter trained for 3 steps scores the real photos below chance, and says so.
    assert "near chance" in truth.pop("warning")
    assert _scores_in_range(truth, diverged=None)
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def _cell(figure: np.ndarray, rows: int, row: int, column: int) -> np.ndarray:
    return figure_cell(figure, SIZE, rows, row, column)


def test_the_samples_figure_shows_the_scored_samples(
    evaluated: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    run = evaluated
    figure = read_rgb(run / "eval" / "samples.png")
    # Conditioning, ground truth, T = 0.0 and T = 1.0, 4 rows of 16x32 images enlarged to 64x128.
    assert figure.shape[1] == GAP + 4 * (4 * SIZE[1] + GAP)
    val = CityscapesDataset(synthetic_root, "val", image_size=SIZE)
    np.testing.assert_array_equal(_cell(figure, 4, 2, 0), to_uint8(val[2].label_colour[None])[0])
    np.testing.assert_array_equal(_cell(figure, 4, 3, 1), to_uint8(val[3].photo[None])[0])
    # The T = 1.0 column is the first batch that `sample` (and evaluation) draws with this seed.
    assert main([
        "sample", "--run", str(run), "--data", str(synthetic_root), "--temperature", "1.0",
        "--batch-size", "4", "--out", str(tmp_path / "s"), "--device", "cpu",
    ]) == 0  # fmt: skip
    for row, record in enumerate(val.records):
        sampled = read_rgb(
            tmp_path / "s" / "round_1" / "leftImg8bit" / "val" / record.city
            / f"{record.stem}_leftImg8bit.png"
        )  # fmt: skip
        np.testing.assert_array_equal(_cell(figure, 4, row, 3), sampled)


def test_compare_reuses_matching_metrics_and_adds_a_temperature(
    trained: tuple[Path, Path],
    evaluated: Path,
    synthetic_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    tmp_path: Path,
) -> None:
    _, segmenter = trained
    run = shutil.copytree(evaluated, tmp_path / "run")  # compare rewrites RUN/eval/
    common = [
        str(run), "--data", str(synthetic_root), "--segmenter", str(segmenter), "--rounds", "2",
        "--bpd-draws", "1", "--batch-size", "4", "--device", "cpu",
    ]  # fmt: skip
    before = json.loads((run / "eval" / "metrics.json").read_text())
    figure_before = (run / "eval" / "samples.png").read_bytes()
    evaluated = []
    real_evaluate = compare_module.evaluate_model
    monkeypatch.setattr(
        compare_module,
        "evaluate_model",
        lambda *a, **k: evaluated.append(a[-1]) or real_evaluate(*a, **k),
    )
    assert main(["compare", *common, "--temperature", "1.0"]) == 0
    assert evaluated == []
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith(f"| Full-Glow | {before['bpd']:.3f} |")
    assert table[3].startswith("| Ground-truth | — |")

    assert main(["compare", *common, "--temperature", "0.5"]) == 0
    assert [s.temperatures for s in evaluated] == [(0.5,)]
    assert evaluated[0].compute_bpd is False
    after = json.loads((run / "eval" / "metrics.json").read_text())
    assert [t["temperature"] for t in after["temperatures"]] == [0.0, 0.5, 1.0]
    assert after["bpd"] == before["bpd"]
    # Same weights: the samples figure of `evaluate` is kept.
    assert (run / "eval" / "samples.png").read_bytes() == figure_before

    figure = tmp_path / "figure2.png"
    assert main(["compare", *common, "--figure", str(figure), "--figure-rows", "3"]) == 0
    image = read_rgb(figure)
    # Conditioning, ground truth and the one model, 3 rows of 16x32 images enlarged to 64x128.
    assert image.shape[1] == GAP + 3 * (4 * SIZE[1] + GAP)
    assert image.shape[0] > 3 * (4 * SIZE[0] + GAP)
    assert main(["compare", *common, "--figure", str(figure), "--figure-rows", "5"]) == 2
    assert "batch size of at least 5" in capsys.readouterr().err


def test_sample_and_transfer_commands(
    trained: tuple[Path, Path], synthetic_root: Path, tmp_path: Path
) -> None:
    run, _ = trained
    out = tmp_path / "samples"
    assert main([
        "sample", "--run", str(run), "--data", str(synthetic_root), "--split", "val",
        "--temperature", "0.7", "--rounds", "1", "--out", str(out), "--device", "cpu",
    ]) == 0  # fmt: skip
    labels = CityscapesDataset(synthetic_root, "val")
    written = sorted(out.glob("round_1/leftImg8bit/val/*/*_leftImg8bit.png"))
    assert [p.name for p in written] == sorted(f"{r.stem}_leftImg8bit.png" for r in labels.records)
    record, structure = labels.records[0], labels.records[1]
    transfer = [
        "transfer", "--run", str(run), "--content-photo", str(record.photo_path),
        "--content-label", str(record.label_ids_path), "--device", "cpu",
    ]  # fmt: skip
    assert main([
        *transfer, "--structure-label", str(structure.colour_path), "--out", str(tmp_path / "t.png"),
        "--figure", str(tmp_path / "f.png"),
    ]) == 0  # fmt: skip
    # Content, structure, result and the structure's own photo, found in the Cityscapes layout.
    figure = read_rgb(tmp_path / "f.png")
    assert figure.shape[1] == GAP + 4 * (4 * SIZE[1] + GAP)
    np.testing.assert_array_equal(_cell(figure, 1, 0, 2), read_rgb(tmp_path / "t.png"))
    expected = resize_photo(read_rgb(structure.photo_path), SIZE)
    np.testing.assert_array_equal(_cell(figure, 1, 0, 3), expected)
    # A structure label outside a dataset has no photo to show: three columns.
    loose = tmp_path / "loose_gtFine_color.png"
    loose.write_bytes(structure.colour_path.read_bytes())
    assert main([
        *transfer, "--structure-label", str(loose), "--out", str(tmp_path / "u.png"),
        "--figure", str(tmp_path / "g.png"),
    ]) == 0  # fmt: skip
    assert read_rgb(tmp_path / "g.png").shape[1] == GAP + 3 * (4 * SIZE[1] + GAP)


def test_commands_report_bad_input_without_traceback(
    trained: tuple[Path, Path],
    synthetic_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    run, segmenter = trained
    empty_run = tmp_path / "empty"
    empty_run.mkdir()
    code = main([
        "evaluate", "--run", str(empty_run), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), "--device", "cpu",
    ])  # fmt: skip
    assert code == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    code = main([
        "evaluate", "--run", str(run), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), "--temperatures", "0.5,hot", "--device", "cpu",
    ])  # fmt: skip
    assert code == 2
    assert "'hot' is not a number" in capsys.readouterr().err
    code = main([
        "augment", "--run", str(run), "--labels", str(tmp_path), "--out", str(tmp_path / "a"),
        "--device", "cpu",
    ])  # fmt: skip
    assert code == 2
    assert "missing folder" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
