"""Every config field is validated before anything is written, with a one-line error naming the
field and what it allows; a start that failed does not block a corrected retry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fullglow import build_model
from fullglow.cli import main
from fullglow.conditional.networks import ConditioningConfig
from fullglow.errors import UserInputError
from fullglow.models.config import FullGlowConfig, GlowConfig
from fullglow.models.pix2pix import Pix2PixConfig
from fullglow.training import TrainConfig, train
from fullglow.training import trainer as trainer_module

SIZE = "16x32"

BAD_OPTIONS = [
    (["--hidden-channels", "abc"], "--hidden-channels must be an integer, got 'abc'"),
    (["--hidden-channels", "3.5"], "--hidden-channels must be an integer, got 3.5"),
    (["--hidden-channels", "0"], "--hidden-channels must be >= 1, got 0"),
    (["--conditioning", "5"], "--conditioning must be a JSON object with the fields mlp_conv"),
    (["--conditioning", '{"coupling_channels": 0}'], "coupling_channels must be >= 1, got 0"),
    (["--in-channels", "0"], "--in-channels must be >= 1, got 0"),
    (["--cond-channels", "-1"], "--cond-channels must be >= 1, got -1"),
    (["--source-weight", "abc"], "--source-weight must be a number, got 'abc'"),
    (["--source-weight", "-1"], "--source-weight must be >= 0, got -1"),
    (["--n-bits", "0"], r"--n-bits must be in \[1, 8\], got 0"),
    (["--n-bits", "9"], r"--n-bits must be in \[1, 8\], got 9"),
    (["--coupling", "3"], "--coupling must be a string, got 3"),
    (["--model", "dualglow", "--prior-channels", "0"], "--prior-channels must be >= 1, got 0"),
    (["--model", "pix2pix", "--hidden-channels", "abc"], "--hidden-channels must be an integer"),
    (["--model", "cglow-v2", "--feature-channels", "x"], "--feature-channels must be an integer"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_model_options_are_one_line_errors_before_anything_is_written(
    options: list[str],
    message: str,
    synthetic_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    out = tmp_path / "run"
    code = main([
        "train", "--data", str(synthetic_root), "--out", str(out), "--steps", "1", "--preset",
        "tiny", "--image-size", SIZE, "--batch-size", "2", "--val-every", "0", "--sample-every",
        "0", "--quiet", *options,
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not out.exists()


def test_configs_check_types_and_ranges_in_post_init() -> None:
    with pytest.raises(UserInputError, match="n_bits must be in"):
        GlowConfig(image_size=(16, 16), n_blocks=2, n_bits=0)
    with pytest.raises(UserInputError, match="mlp_hidden_features must be >= 1"):
        ConditioningConfig(mlp_hidden_features=(32, 0))
    with pytest.raises(UserInputError, match="image_size must be a list of 2"):
        FullGlowConfig(image_size=(16, "a"), n_blocks=2)
    with pytest.raises(UserInputError, match="dropout must be a number"):
        Pix2PixConfig(dropout="half")
    with pytest.raises(UserInputError, match="batch_size must be an integer, got '4'"):
        TrainConfig(steps=1, batch_size="4")
    with pytest.raises(UserInputError, match="dataset must be 'cityscapes' or 'paired'"):
        TrainConfig(steps=1, dataset="coco")
    # Lists stand for tuples (JSON has none); the presets are untouched.
    assert FullGlowConfig(image_size=[16, 32], n_blocks=2, n_flows=[1, 2]).n_flows == (1, 2)
    build_model("fullglow", "paper-256")


def test_a_start_that_failed_does_not_block_a_corrected_retry(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = dict(
        model="fullglow", preset="tiny", image_size=(16, 32), data=str(synthetic_root), steps=1,
        batch_size=2, val_every=0, sample_every=0, log_every=1,
    )  # fmt: skip
    with monkeypatch.context() as patch:

        def fail(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the first step failed")

        patch.setattr(trainer_module.MetricsLog, "write", fail)
        with pytest.raises(RuntimeError, match="first step failed"):
            train(TrainConfig(**common, lr=1e-2), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "train_config.json").is_file()
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))
    result = train(TrainConfig(**common, lr=1e-4), tmp_path / "run", progress=False)
    assert result.steps == 1
    # Once a checkpoint exists, another configuration is refused as before.
    with pytest.raises(UserInputError, match="another configuration"):
        train(TrainConfig(**common, lr=1e-3), tmp_path / "run", progress=False)
