"""Scoring the real photos alone, warnings on a segmenter near chance, and the evaluate command's
refusals that name the route that works."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from fullglow.cli import main
from fullglow.data import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    evaluate_model,
    near_chance_warning,
    score_real_photos,
    write_evaluation,
)
from fullglow.evaluation.tables import table1
from fullglow.metrics import NUM_CLASSES, SegmentationScores, confusion_matrix
from fullglow.segmenter.network import predict
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training.runs import LoadedRun, weights_fingerprint

SIZE = (16, 32)


class ConstantSegmenter(nn.Module):
    """Predicts one class everywhere (a segmenter fed the wrong input looks like this)."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, photos: Tensor) -> Tensor:
        logits = torch.zeros(photos.shape[0], NUM_CLASSES, *photos.shape[-2:]) + self.bias
        logits[:, self.label] = 1.0
        return logits


def _rarest_class(dataset: CityscapesDataset) -> int:
    counts = torch.zeros(NUM_CLASSES, dtype=torch.int64)
    for i in range(len(dataset)):
        ids = dataset[i].train_ids
        counts += torch.bincount(ids[ids != 255], minlength=NUM_CLASSES)
    return int(counts.argmin())


def test_near_chance_is_below_always_predicting_the_most_frequent_class() -> None:
    # 60 % of the labelled pixels are class 0: always predicting it scores 60 %.
    below = torch.tensor([[40, 20, 0], [20, 10, 0], [5, 5, 0]])  # 50 % right
    assert below.sum() == 100 and below.sum(dim=1)[0] == 60
    warning = near_chance_warning(below, (256, 512))
    assert warning is not None
    assert "50.00%" in warning and "60.00%" in warning and "normalisation" in warning
    assert "256x512" in warning and "class order" in warning
    above = torch.tensor([[55, 5, 0], [5, 25, 0], [0, 5, 5]])
    assert near_chance_warning(above, (256, 512)) is None


def test_real_photos_are_scored_alone_and_near_chance_is_flagged(synthetic_root: Path) -> None:
    val = open_dataset_split(synthetic_root, "val", SIZE)
    settings = EvaluationSettings(batch_size=3, progress=False)
    torch.manual_seed(0)
    conv = nn.Conv2d(3, NUM_CLASSES, 1).eval()
    scores = score_real_photos(conv, val, settings)
    photos = torch.stack([val[i].photo for i in range(len(val))])
    labels = torch.stack([val[i].train_ids for i in range(len(val))])
    expected = SegmentationScores.from_confusion(confusion_matrix(predict(conv, photos, 4), labels))
    assert (scores.pixel_accuracy, scores.class_accuracy, scores.mean_iou) == pytest.approx(
        (expected.pixel_accuracy, expected.class_accuracy, expected.mean_iou)
    )
    bad = score_real_photos(ConstantSegmenter(_rarest_class(val)), val, settings)
    assert bad.warning is not None and "near chance" in bad.warning


def test_a_near_chance_ceiling_is_in_metrics_json_and_table1(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fullglow import build_model
    from fullglow.evaluation.evaluate import Segmenter

    val = open_dataset_split(synthetic_root, "val", SIZE)
    model = build_model("fullglow", "tiny", image_size=SIZE)
    first = next(iter(torch.utils.data.DataLoader(val, batch_size=4)))
    model.initialize(first.photo, first.label_colour)
    model.eval()
    run = LoadedRun(model, tmp_path, "model", weights_fingerprint(model))
    network = ConstantSegmenter(_rarest_class(val))
    segmenter = Segmenter(network, "constant", weights_fingerprint(network))
    settings = EvaluationSettings(
        temperatures=(0.0,), rounds=1, batch_size=4, compute_bpd=False, progress=False
    )
    with caplog.at_level("WARNING"):
        report = evaluate_model(run, val, segmenter, settings)
    assert "near chance" in caplog.text
    out = write_evaluation(report, tmp_path / "eval")
    stored = json.loads((out / "metrics.json").read_text())
    assert "near chance" in stored["ground_truth"]["warning"]
    assert (
        "**Warning** (Ground-truth): the segmenter scores the real photos near chance"
        in (out / "table1.md").read_text()
    )
    assert "near chance" in table1([report], 0.0)


def _scripted(module: nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module), str(path))
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ground_truth_only_command(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, NUM_CLASSES, 1).eval()
    segmenter = _scripted(conv, tmp_path / "seg.pt")
    command = [
        "evaluate", "--ground-truth-only", "--data", str(synthetic_root), "--segmenter",
        str(segmenter), "--device", "cpu", "--quiet", "--threads", "1",
    ]  # fmt: skip
    assert main(command) == 2
    assert "needs --image-size" in capsys.readouterr().err
    assert main([*command, "--image-size", "16x32"]) == 0
    out = capsys.readouterr()
    val = open_dataset_split(synthetic_root, "val", SIZE)
    photos = torch.stack([val[i].photo for i in range(len(val))])
    labels = torch.stack([val[i].train_ids for i in range(len(val))])
    expected = SegmentationScores.from_confusion(confusion_matrix(predict(conv, photos, 4), labels))
    cells = " | ".join(
        f"{100 * v:.2f}"
        for v in (expected.pixel_accuracy, expected.class_accuracy, expected.mean_iou)
    )
    assert f"| Real photos | {cells} |" in out.out
    assert "it/s" not in out.err and "batch/s" not in out.err  # --quiet: no bar


def test_evaluate_refuses_image_size_with_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main([
        "evaluate", "--run", str(tmp_path), "--data", str(tmp_path), "--segmenter",
        str(tmp_path), "--image-size", "256x512", "--device", "cpu",
    ])  # fmt: skip
    assert code == 2
    assert "--image-size does not apply to --run" in capsys.readouterr().err


def test_a_labels_only_tree_names_the_sample_then_score_route(
    synthetic_root: Path, tmp_path: Path
) -> None:
    labels_only = tmp_path / "labels"
    shutil.copytree(synthetic_root / "gtFine", labels_only / "gtFine")
    with pytest.raises(UserInputError, match=r"fullglow sample .* fullglow evaluate --samples"):
        open_dataset_split(labels_only, "val", SIZE)
    assert len(open_dataset_split(labels_only, "val", SIZE, require_photos=False)) == 4
