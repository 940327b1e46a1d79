"""`evaluate` and `compare` with guidance and self-denoising: the scores, the figure and the
stored metrics describe the samples as drawn, and a stored evaluation is reused only for the same
options."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from figure_cells import figure_cell
from fullglow.cli import main
from fullglow.data import CityscapesDataset
from fullglow.data.image_io import read_rgb
from fullglow.evaluation import compare as compare_module
from fullglow.evaluation.report import EvaluationReport
from fullglow.training.runs import load_run, sampling_warnings
from tiny_models import train_tiny_run

SIZE = (16, 32)
SIGMA = 0.05


@pytest.fixture(scope="module")
def trained(
    synthetic_root: Path, tiny_segmenter: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A tiny Full-Glow trained with label dropout and Gaussian noise, and a tiny segmenter."""
    run = tmp_path_factory.mktemp("options") / "run"
    return train_tiny_run(synthetic_root, run, label_dropout=0.5, noise_sigma=SIGMA), tiny_segmenter


OPTIONS = ["--guidance", "2", "--denoise-sigma", str(SIGMA)]
COMMON = ["--rounds", "1", "--bpd-draws", "1", "--batch-size", "4", "--device", "cpu"]


def _first_batch(out: Path, root: Path) -> list[np.ndarray]:
    val = CityscapesDataset(root, "val", image_size=SIZE)
    return [
        read_rgb(
            out / "round_1" / "leftImg8bit" / "val" / r.city / f"{r.stem}_leftImg8bit.png"
        )  # fmt: skip
        for r in val.records
    ]


def test_evaluate_scores_and_draws_guided_denoised_samples_and_records_the_options(
    trained: tuple[Path, Path],
    synthetic_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    run, segmenter = trained
    run = shutil.copytree(run, tmp_path / "run")
    assert main([
        "evaluate", "--run", str(run), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), "--temperatures", "0.5,1.0", *COMMON, *OPTIONS,
    ]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "samples guidance w = 2, denoised with sigma 0.05" in out
    assert "| Full-Glow, guidance w = 2, denoised with sigma 0.05 |" in out
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert (metrics["guidance"], metrics["denoise_sigma"]) == (2.0, SIGMA)
    figure = read_rgb(run / "eval" / "samples.png")
    for options, name in ((OPTIONS, "guided"), ([], "plain")):
        assert main([
            "sample", "--run", str(run), "--data", str(synthetic_root), "--temperature", "1.0",
            "--batch-size", "4", "--out", str(tmp_path / name), "--device", "cpu", *options,
        ]) == 0  # fmt: skip
    guided = _first_batch(tmp_path / "guided", synthetic_root)
    plain = _first_batch(tmp_path / "plain", synthetic_root)
    for row, photo in enumerate(guided):
        np.testing.assert_array_equal(figure_cell(figure, SIZE, 4, row, 3), photo)
    assert any(np.abs(g.astype(int) - p).max() > 0 for g, p in zip(guided, plain, strict=True))


def test_compare_reevaluates_when_the_sampling_options_change(
    trained: tuple[Path, Path],
    synthetic_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    run, segmenter = trained
    run = shutil.copytree(run, tmp_path / "run")
    common = [str(run), "--data", str(synthetic_root), "--segmenter", str(segmenter), *COMMON]
    assert main(["compare", *common, "--temperature", "1.0"]) == 0
    calls = []
    real_evaluate = compare_module.evaluate_model
    monkeypatch.setattr(
        compare_module,
        "evaluate_model",
        lambda *a, **k: calls.append(a[-1]) or real_evaluate(*a, **k),
    )
    capsys.readouterr()
    assert main(["compare", *common, "--temperature", "1.0", *OPTIONS]) == 0
    assert [(s.guidance, s.denoise_sigma) for s in calls] == [(2.0, SIGMA)]
    assert "| Full-Glow, guidance w = 2, denoised with sigma 0.05 |" in capsys.readouterr().out
    assert main(["compare", *common, "--temperature", "1.0", *OPTIONS]) == 0
    assert len(calls) == 1  # the same options: the stored evaluation is reused


def test_a_run_not_trained_for_an_option_is_warned_about(
    trained: tuple[Path, Path],
    synthetic_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run, segmenter = trained
    assert sampling_warnings(load_run(run), SIGMA, 2.0) == []
    assert "removes the noise" in sampling_warnings(load_run(run), 0.1, None)[0]
    plain = train_tiny_run(synthetic_root, tmp_path / "plain")
    guidance, denoising = sampling_warnings(load_run(plain), SIGMA, 2.0)
    assert "without label dropout" in guidance
    assert "trained with uniform dequantization" in denoising
    with caplog.at_level(logging.WARNING):
        assert main([
            "evaluate", "--run", str(plain), "--data", str(synthetic_root), "--segmenter",
            str(segmenter), "--temperatures", "1.0", "--figure-rows", "0", *COMMON,
            "--guidance", "2",
        ]) == 0  # fmt: skip
    assert "its null-label model was never trained" in caplog.text


def test_bad_options_are_one_line_errors(
    trained: tuple[Path, Path], synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    run, segmenter = trained
    command = ["evaluate", "--run", str(run), "--data", str(synthetic_root)]
    command += ["--segmenter", str(segmenter), *COMMON]
    assert main([*command, "--denoise-sigma", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("the denoising sigma must be > 0, got 0.0")
    assert main([*command, "--guidance", "inf"]) == 2
    assert "the guidance weight must be a finite number" in capsys.readouterr().err


def test_metrics_written_before_the_options_existed_read_as_plain_sampling(
    trained: tuple[Path, Path], synthetic_root: Path, tmp_path: Path
) -> None:
    run, segmenter = trained
    run = shutil.copytree(run, tmp_path / "run")
    assert main([
        "evaluate", "--run", str(run), "--data", str(synthetic_root), "--segmenter",
        str(segmenter), "--temperatures", "1.0", "--figure-rows", "0", *COMMON,
    ]) == 0  # fmt: skip
    values = json.loads((run / "eval" / "metrics.json").read_text())
    assert (values.pop("guidance"), values.pop("denoise_sigma")) == (None, None)
    report = EvaluationReport.from_json(values)
    assert (report.guidance, report.denoise_sigma, report.sampling_note) == (None, None, None)


def test_a_gan_is_warned_that_the_options_do_not_apply(synthetic_root: Path, tmp_path: Path):
    from fullglow.models import build_model
    from fullglow.training.runs import LoadedRun

    gan = build_model("pix2pix", preset="tiny", image_size=(32, 32))
    run = LoadedRun(gan, tmp_path, "model", "0" * 16)
    assert sampling_warnings(run, None, None) == []
    (warning,) = sampling_warnings(run, SIGMA, 2.0)
    assert "no latent to guide or denoise" in warning
