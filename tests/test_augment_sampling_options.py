"""`augment` and the study with guidance and self-denoising: the candidates written are the samples
`sample` draws with the same options, and a study denoises a noise-trained generator's samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fullglow.cli import main
from fullglow.data.image_io import read_rgb
from fullglow.study import StudyConfig, run_study
from fullglow.study import pipeline as study_pipeline
from tiny_models import train_tiny_run

SIGMA = 0.05


@pytest.fixture(scope="module")
def run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Full-Glow trained with label dropout and Gaussian noise."""
    out = tmp_path_factory.mktemp("augment-options") / "run"
    return train_tiny_run(synthetic_root, out, label_dropout=0.5, noise_sigma=SIGMA)


def _photos(root: Path) -> dict[str, np.ndarray]:
    """The photos under `root`, by file stem without the candidate or round suffixes."""
    return {
        p.name.replace("-s0_leftImg8bit.png", "").replace("_leftImg8bit.png", ""): read_rgb(p)
        for p in sorted(root.rglob("*_leftImg8bit.png"))
    }


OPTIONS = ["--guidance", "2", "--denoise-sigma", str(SIGMA)]


def test_augment_writes_the_samples_drawn_with_the_same_options(
    run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    common = ["--run", str(run), "--temperature", "1.0", "--batch-size", "4", "--device", "cpu"]
    for name, options in (("guided", OPTIONS), ("plain", [])):
        assert main([
            "augment", *common, "--labels", str(synthetic_root), "--split", "val",
            "--out", str(tmp_path / f"aug-{name}"), *options,
        ]) == 0  # fmt: skip
    assert main([
        "sample", *common, "--data", str(synthetic_root), "--split", "val",
        "--out", str(tmp_path / "sampled"), *OPTIONS,
    ]) == 0  # fmt: skip
    augmented, sampled = _photos(tmp_path / "aug-guided"), _photos(tmp_path / "sampled")
    assert sorted(augmented) == sorted(sampled) and len(augmented) == 4
    for stem, photo in augmented.items():
        np.testing.assert_array_equal(photo, sampled[stem])
    plain = _photos(tmp_path / "aug-plain")
    assert any(np.abs(plain[s].astype(int) - augmented[s]).max() > 0 for s in augmented)


def test_bad_sampling_options_of_augment_are_one_line_errors(
    run: Path, synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    command = ["augment", "--run", str(run), "--labels", str(synthetic_root), "--split", "val"]
    assert main([*command, "--out", str(tmp_path / "a"), "--denoise-sigma", "-1"]) == 2
    assert capsys.readouterr().err.strip().endswith("the denoising sigma must be > 0, got -1.0")
    assert main([*command, "--out", str(tmp_path / "b"), "--guidance", "nan"]) == 2
    assert "the guidance weight must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_study_denoises_the_samples_of_a_generator_trained_on_noisy_photos(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noisy = train_tiny_run(synthetic_root, tmp_path / "noisy", (32, 64), noise_sigma=SIGMA)
    plain = train_tiny_run(synthetic_root, tmp_path / "plain", (32, 64))
    calls = {}
    real_augment = study_pipeline.augment_dataset

    def spy(model, labels, out_dir, **kwargs):
        calls[Path(out_dir).name] = kwargs["denoise_sigma"]
        return real_augment(model, labels, out_dir, **kwargs)

    monkeypatch.setattr(study_pipeline, "augment_dataset", spy)
    config = StudyConfig(
        data=str(synthetic_root), image_size=(32, 64), real=4, pool=2, val=4, seeds=1, models=(),
        runs=(("noisy", str(noisy)), ("plain", str(plain))), select=("likelihood",), per_label=1,
        keep=1, minutes=1.0, segmenter_steps=1, segmenter_width=8, preset="tiny", batch_size=4,
        device="cpu", n_grid=1,
    )  # fmt: skip
    run_study(config, tmp_path / "study")
    assert calls == {"noisy-likelihood": SIGMA, "plain-likelihood": None}
    table = (tmp_path / "study" / "table.md").read_text()
    assert "denoised with sigma 0.05" in table
    # No generator trained in the study: the table says where they come from, not "0.0 min".
    assert "Generators trained elsewhere (`--run`): noisy, plain." in table
    assert "min each" not in table
