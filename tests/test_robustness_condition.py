"""One preparation of the condition for every path (fullglow.condition): training dequantizes the
label image with noise, and evaluation, BPD, sampling, augmenting, figures and transfer feed the
model that noise's mean, through the same function."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from fullglow import build_model
from fullglow import condition as condition_module
from fullglow.condition import prepare_condition
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.evaluate import EvaluationSettings, segmentation_scores
from fullglow.evaluation.figures import grid_samples
from fullglow.synthesis import generation
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.sampling import sample_split
from fullglow.synthesis.splits import open_dataset_split
from fullglow.synthesis.transfer import content_transfer
from fullglow.training import TrainConfig
from fullglow.training import batches as batches_module
from fullglow.training.batches import prepare_batch

SIZE = (16, 32)


def test_training_noise_stays_in_the_bin_whose_centre_evaluation_feeds() -> None:
    levels = torch.arange(256, dtype=torch.float64) / 255  # every 8-bit value, 255/255 = 1 too
    centre = prepare_condition(levels, 8)
    torch.testing.assert_close(centre, (torch.arange(256) + 0.5).double() / 256, rtol=0, atol=0)
    draws = torch.stack(
        [prepare_condition(levels, 8, torch.Generator().manual_seed(s)) for s in range(2000)]
    )
    low, high = centre - 0.5 / 256, centre + 0.5 / 256
    assert bool(((draws >= low) & (draws < high)).all())
    # The evaluation's condition is the mean of the training's (std of the mean: 2.5e-5).
    torch.testing.assert_close(draws.mean(dim=0), centre, rtol=0, atol=2e-4)
    assert prepare_condition(levels, None) is levels  # pix2pix: as read


@pytest.fixture(scope="module")
def flow(synthetic_root: Path) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("fullglow", "tiny", image_size=SIZE)
    val = open_dataset_split(synthetic_root, "val", SIZE)
    batch = next(iter(torch.utils.data.DataLoader(val, batch_size=4)))
    model.initialize(batch.photo, batch.label_colour)
    return model.eval()


class Recorder:
    """Spies on `prepare_condition` where training and `model_condition` call it, and on the
    conditions the model's methods receive."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prepared: list[Tensor] = []
        self.received: list[Tensor] = []
        self.noise: list[bool] = []

        def spy(label: Tensor, n_bits: int | None, noise: torch.Generator | None = None) -> Tensor:
            out = condition_module.prepare_condition(label, n_bits, noise)
            self.prepared.append(out)
            self.noise.append(noise is not None)
            return out

        monkeypatch.setattr(generation, "prepare_condition", spy)
        monkeypatch.setattr(batches_module, "prepare_condition", spy)

    def watch(self, model: nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, position in (("log_prob", 1), ("sample", 0), ("encode", 1), ("decode", 1)):
            monkeypatch.setattr(model, name, self._recording(getattr(model, name), position))

    def _recording(self, method: Callable[..., Tensor], position: int) -> Callable[..., Tensor]:
        def call(*args: object, **kwargs: object) -> Tensor:
            self.received.append(args[position])
            return method(*args, **kwargs)

        return call

    def check(self) -> None:
        """Every condition the model got came out of `prepare_condition`, noise-free."""
        assert self.received and self.prepared
        assert not any(self.noise)
        for cond in self.received:
            assert any(cond is out for out in self.prepared)


def test_every_use_feeds_the_prepared_condition(
    flow: nn.Module, synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    val = open_dataset_split(synthetic_root, "val", SIZE)
    labels = open_dataset_split(synthetic_root, "val", SIZE, require_photos=False)
    settings = EvaluationSettings(temperatures=(0.5,), rounds=1, batch_size=4, progress=False)
    uses = {
        "bpd": lambda: conditional_bpd(flow, val, batch_size=4, draws=1, progress=False),
        "evaluate": lambda: segmentation_scores(flow, nn.Conv2d(3, 19, 1), val, settings),
        "figure": lambda: grid_samples(flow, val, (0.5,), 2, 4, 0),
        "sample": lambda: sample_split(
            flow, labels, tmp_path / "s", temperature=0.5, batch_size=4, progress=False
        ),
        "augment": lambda: augment_dataset(
            flow, labels, tmp_path / "a", temperature=0.5, batch_size=4, progress=False
        ),
        "transfer": lambda: content_transfer(
            flow, val[0].photo[None], val[0].label_colour[None], val[1].label_colour[None]
        ),
    }
    for name, use in uses.items():
        with monkeypatch.context() as patch:
            recorder = Recorder(patch)
            recorder.watch(flow, patch)
            use()
            recorder.check()
            # ... and that is the bin centre of the label as read, not the raw label.
            first = recorder.received[0]
            raw = val[0].label_colour[None].to(first.dtype)
            assert not torch.equal(first[:1], raw), name
            torch.testing.assert_close(first[:1], prepare_condition(raw, 8), rtol=0, atol=0)


def test_training_prepares_the_condition_with_its_noise(
    synthetic_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_set = open_dataset_split(synthetic_root, "train", SIZE)
    samples = default_collate([train_set[i] for i in range(3)])
    config = TrainConfig(data=str(synthetic_root), steps=1, batch_size=3)
    recorder = Recorder(monkeypatch)
    batch = prepare_batch(
        samples, config=config, n_bits=8, step=0, slots=[0, 1, 2], device=torch.device("cpu"),
        flip=False,
    )  # fmt: skip
    assert recorder.noise == [True, True, True]
    torch.testing.assert_close(batch.cond, torch.stack(recorder.prepared), rtol=0, atol=0)
    centre = prepare_condition(samples.label_colour, 8)
    assert float((batch.cond - centre).abs().max()) <= 0.5 / 256
    assert not torch.equal(batch.cond, centre)
