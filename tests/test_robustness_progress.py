"""--threads on every command that computes, one --device convention, and progress bars that a
library caller turns off (`progress=False`) and a CLI user with --quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from fullglow import build_model
from fullglow.cli import build_parser, main
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    score_saved_samples,
    segmentation_scores,
)
from fullglow.metrics import NUM_CLASSES
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import train_segmenter
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.sampling import sample_split
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training import TrainConfig, train

SIZE = (16, 32)


@pytest.fixture(scope="module")
def flow(synthetic_root: Path) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("fullglow", "tiny", image_size=SIZE)
    batch = next(iter(torch.utils.data.DataLoader(open_dataset_split(synthetic_root, "val", SIZE))))
    model.initialize(batch.photo, batch.label_colour)
    return model.eval()


def test_library_functions_show_no_bar_with_progress_false(
    flow: nn.Module, synthetic_root: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    val = open_dataset_split(synthetic_root, "val", SIZE)
    labels = open_dataset_split(synthetic_root, "val", SIZE, require_photos=False)
    segmenter = nn.Conv2d(3, NUM_CLASSES, 1).eval()
    settings = EvaluationSettings(temperatures=(0.0,), rounds=1, batch_size=4, progress=False)
    capfd.readouterr()
    conditional_bpd(flow, val, batch_size=4, draws=1, progress=False)
    segmentation_scores(flow, segmenter, val, settings)
    sample_split(flow, labels, tmp_path / "s", temperature=0.0, batch_size=4, progress=False)
    score_saved_samples(tmp_path / "s", labels, segmenter, batch_size=4, progress=False)
    augment_dataset(flow, labels, tmp_path / "a", temperature=0.0, batch_size=4, progress=False)
    train_segmenter(
        open_dataset_split(synthetic_root, "train", SIZE), SegmenterConfig(width=4, image_size=SIZE),
        2, 4, 1e-3, "cpu", 0, tmp_path / "seg", progress=False,
    )  # fmt: skip
    config = TrainConfig(
        model="fullglow", preset="tiny", image_size=SIZE, data=str(synthetic_root), steps=1,
        batch_size=4, val_every=0, sample_every=0, log_every=1,
    )  # fmt: skip
    train(config, tmp_path / "run", progress=False)
    assert "|" not in capfd.readouterr().err  # a tqdm bar draws "| 3/4 [..]"
    conditional_bpd(flow, val, batch_size=4, draws=1)
    assert "conditional bpd" in capfd.readouterr().err  # bars stay on by default


COMMANDS = {
    "evaluate": ["--run", "RUN", "--data", "D", "--segmenter", "S"],
    "sample": ["--run", "RUN", "--data", "D", "--out", "O"],
    "augment": ["--run", "RUN", "--labels", "D", "--out", "O"],
    "compare": ["RUN", "--data", "D", "--segmenter", "S"],
    "transfer": [
        "--run", "RUN", "--content-photo", "P", "--content-label", "L", "--structure-label", "L",
        "--out", "O",
    ],
    "train-segmenter": ["--data", "D", "--out", "O"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_threads_with_one_per_spare_core(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = build_parser().parse_args([command, *COMMANDS[command]])
    assert args.threads == max(1, torch.get_num_threads() - 1)
    assert args.device == "auto"
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    missing = [str(tmp_path / "missing") if a.isupper() else a for a in COMMANDS[command]]
    assert main([command, *missing, "--threads", "1", "--device", "cpu"]) == 2
    assert calls == [1]
    assert main([command, *missing, "--threads", "0", "--device", "cpu"]) == 2


@pytest.mark.parametrize(
    "command", ["evaluate", "sample", "augment", "compare", "train-segmenter", "train", "demo"]
)
def test_commands_with_bars_take_quiet(command: str) -> None:
    required = {
        **COMMANDS,
        "train": ["--out", "O", "--steps", "1", "--data", "D"],
        "demo": [],
    }[command]
    assert build_parser().parse_args([command, *required, "--quiet"]).quiet
