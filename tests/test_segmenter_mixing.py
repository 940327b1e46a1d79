"""Real + synthetic batches: the mixing ratio holds, and train-segmenter --extra uses it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fullglow.errors import UserInputError
from fullglow.segmenter.mixing import MixedBatchSampler, default_extra_ratio


@pytest.mark.parametrize(("ratio", "batch"), [(0.25, 8), (1 / 3, 8), (0.8, 5), (0.0, 4), (1.0, 4)])
def test_the_mixing_ratio_holds_over_an_epoch_within_one_sample(ratio: float, batch: int) -> None:
    n_real, n_extra = 37, 110
    epoch = math.ceil((n_real + n_extra) / batch)
    sampler = MixedBatchSampler(n_real, n_extra, batch, ratio, num_batches=3 * epoch, seed=4)
    batches = list(sampler)
    assert len(batches) == 3 * epoch and all(len(b) == batch for b in batches)
    for start in range(0, 3 * epoch, epoch):
        window = [i for b in batches[start : start + epoch] for i in b]
        synthetic = sum(i >= n_real for i in window)
        # Stated tolerance: one sample per epoch (cumulative rounding), whatever the ratio.
        assert abs(synthetic - ratio * len(window)) <= 1
    # Every sample of each part is used before any is repeated.
    flat = [i for b in batches for i in b]
    real = [i for i in flat if i < n_real]
    if len(real) >= n_real:
        assert sorted(real[:n_real]) == list(range(n_real))
    assert flat == [
        i for b in MixedBatchSampler(n_real, n_extra, batch, ratio, 3 * epoch, 4) for i in b
    ]


def test_default_ratio_is_by_dataset_size() -> None:
    assert default_extra_ratio(50, 150) == 0.75


def test_bad_ratios_are_refused() -> None:
    with pytest.raises(UserInputError, match="between 0 and 1"):
        MixedBatchSampler(4, 4, 2, 1.5, 3)
    with pytest.raises(UserInputError, match="needs real"):
        MixedBatchSampler(4, 0, 2, 0.5, 3)


def test_train_segmenter_cli_mixes_extra_and_scores_on_real_val(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import json

    from fullglow.cli import main

    out = tmp_path / "seg"
    code = main([
        "train-segmenter", "--data", str(synthetic_root), "--extra", str(synthetic_root),
        "--extra", str(synthetic_root), "--extra-ratio", "0.5", "--image-size", "16x32",
        "--steps", "3", "--batch-size", "4", "--width", "8", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    info = json.loads((out / "segmenter.json").read_text())["info"]
    assert info["extra_images"] == 16 and info["extra_ratio"] == 0.5
    assert info["val"]["images"] == 4
    assert "val, 4 real photos" in capsys.readouterr().out
