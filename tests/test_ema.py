"""The exponential moving average of the weights (`--ema`): its update, resume, and its use."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from fullglow.errors import UserInputError
from fullglow.training import load_trained_model, train
from fullglow.training.ema import WeightAverage
from fullglow.training.runs import load_run
from test_training_support import (
    latest_checkpoint,
    one_thread,  # noqa: F401 (fixture)
    tiny_config,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class _WithCounter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("count", torch.tensor(0))


def test_the_average_moves_by_one_minus_decay_towards_the_weights_and_copies_integers():
    module = _WithCounter()
    start = module.linear.weight.detach().clone()
    average = WeightAverage(module, decay=0.75)
    with torch.no_grad():
        module.linear.weight.add_(4.0)
        module.count.fill_(7)
    average.update(module)
    first = 0.75 * start + 0.25 * (start + 4.0)
    torch.testing.assert_close(average.state_dict()["linear.weight"], first)
    assert average.state_dict()["count"].item() == 7
    with torch.no_grad():
        module.linear.weight.mul_(-1.0)
    average.update(module)
    torch.testing.assert_close(
        average.state_dict()["linear.weight"], 0.75 * first + 0.25 * -(start + 4.0)
    )
    assert module.linear.weight[0, 0] != average.state_dict()["linear.weight"][0, 0]
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        WeightAverage(module, decay=1.0)


def test_ema_is_checked_as_a_decay():
    with pytest.raises(UserInputError, match=r"ema must be a decay in \(0, 1\), got 1.5"):
        tiny_config("data", ema=1.5)


def test_resume_with_ema_continues_the_average_exactly(synthetic_root, tmp_path):
    full = tiny_config(synthetic_root, steps=6, ema=0.9)
    train(full, tmp_path / "full")
    train(dataclasses.replace(full, steps=3), tmp_path / "split")
    train(full, tmp_path / "split", resume=True)
    uninterrupted, resumed = (
        latest_checkpoint(tmp_path / "full"),
        latest_checkpoint(tmp_path / "split"),
    )
    assert uninterrupted["ema"].keys() == uninterrupted["model"].keys()
    for key, value in uninterrupted["ema"].items():
        assert torch.equal(value, resumed["ema"][key]), key
    moved = [
        k for k, v in uninterrupted["ema"].items() if not torch.equal(v, uninterrupted["model"][k])
    ]
    assert moved  # the average lags the raw weights


def test_sampling_and_evaluation_load_the_averaged_weights(synthetic_root, tmp_path):
    train(tiny_config(synthetic_root, steps=3, ema=0.5), tmp_path / "ema")
    payload = latest_checkpoint(tmp_path / "ema")
    for model in (
        load_trained_model(tmp_path / "ema", checkpoint="last")[0],
        load_run(tmp_path / "ema", checkpoint="last").model,
    ):
        state = model.state_dict()
        assert all(torch.equal(state[k], v) for k, v in payload["ema"].items())
        assert not all(torch.equal(state[k], v) for k, v in payload["model"].items())
    train(tiny_config(synthetic_root, steps=3), tmp_path / "plain")
    plain = latest_checkpoint(tmp_path / "plain")
    assert plain["ema"] is None
    state = load_trained_model(tmp_path / "plain", checkpoint="last")[0].state_dict()
    assert all(torch.equal(state[k], v) for k, v in plain["model"].items())


def test_validation_and_best_checkpoint_measure_the_averaged_weights(synthetic_root, tmp_path):
    import json

    from fullglow.training.batches import fixed_batches, open_split
    from fullglow.training.validation import validate

    config = tiny_config(synthetic_root, steps=3, ema=0.5, val_every=3, val_batches=1)
    train(config, tmp_path / "ema")
    logged = [
        (record["step"], record["val_bpd"])
        for record in map(json.loads, (tmp_path / "ema" / "metrics.jsonl").read_text().splitlines())
        if "val_bpd" in record
    ]
    payload = latest_checkpoint(tmp_path / "ema")
    model = load_run(tmp_path / "ema", checkpoint="best").model  # the averaged weights

    def val_bpd(module: nn.Module) -> float:
        val = open_split(config, "val", config.image_size)
        n_bits = module.config.n_bits
        batches = fixed_batches(val, config.batch_size, config.batch_size, config, n_bits, "cpu")
        return validate(module, batches)

    step, value = logged[-1]
    assert step == 3 and value == pytest.approx(val_bpd(model), rel=1e-6)
    model.load_state_dict(payload["model"])
    assert abs(val_bpd(model) - value) > 1e-4  # the raw weights score otherwise
