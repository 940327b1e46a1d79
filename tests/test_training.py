"""The trainer: exact resume, the non-finite guard, atomic checkpoints, run-folder checks,
memory-saving equality and a short run that learns."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from fullglow import FlowLoss, FullGlow, build_model
from fullglow.data import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.layers import reversible
from fullglow.training import TrainingError, initial_model, load_trained_model, train, trainer
from fullglow.training import checkpoints as training_checkpoints
from fullglow.training.batches import (
    Batch,
    ResumableSampler,
    fixed_batches,
    open_split,
    prepare_batch,
)
from fullglow.training.checkpoints import FORMAT_VERSION, CheckpointStore, load_checkpoint
from fullglow.training.metrics_log import read_training_log
from fullglow.training.objectives import LikelihoodObjective
from fullglow.training.schedule import lr_factor
from fullglow.training.validation import validate
from test_training_support import (
    TINY_SIZE,
    latest_checkpoint,
    one_thread,  # noqa: F401 (fixture)
    tiny_config,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _loss_records(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_training_log(run_dir) if "loss" in r}


def test_resume_continues_exactly_as_an_uninterrupted_run(synthetic_root, tmp_path):
    # 8 training images in batches of 2: 4 batches an epoch, so step 3 stops mid-epoch and the
    # resumed steps cross into the next epoch (new order, flips and noise).
    full = tiny_config(synthetic_root, steps=6)
    train(full, tmp_path / "full")
    train(dataclasses.replace(full, steps=3), tmp_path / "split")
    halfway = latest_checkpoint(tmp_path / "split")
    assert (halfway["step"], halfway["epoch"], halfway["batch"]) == (3, 0, 3)

    result = train(full, tmp_path / "split", resume=True)

    assert result.steps == 6
    uninterrupted, resumed = (
        latest_checkpoint(tmp_path / "full"),
        latest_checkpoint(tmp_path / "split"),
    )
    for key, value in uninterrupted["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    adam = uninterrupted["objective"]["optimizers"]["model"]["state"]
    adam_resumed = resumed["objective"]["optimizers"]["model"]["state"]
    for index, state in adam.items():
        assert torch.equal(state["exp_avg_sq"], adam_resumed[index]["exp_avg_sq"])
    assert _loss_records(tmp_path / "split") == _loss_records(tmp_path / "full")
    assert sorted(_loss_records(tmp_path / "full")) == [1, 2, 3, 4, 5, 6]


def test_initial_model_is_the_model_training_starts_from(synthetic_root, tmp_path, monkeypatch):
    config = tiny_config(synthetic_root, steps=1)
    started_from = {}
    data_initialize = trainer.data_initialize

    def record(model, dataset, config, device):
        data_initialize(model, dataset, config, device)
        started_from.update({k: v.clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(trainer, "data_initialize", record)
    train(config, tmp_path / "run")
    rebuilt = initial_model(
        config, open_split(config, "train", TINY_SIZE), torch.device("cpu")
    ).state_dict()
    assert rebuilt.keys() == started_from.keys()
    for key, value in started_from.items():
        assert torch.equal(rebuilt[key], value), key
    flags = [value for key, value in rebuilt.items() if key.endswith("actnorm.initialized")]
    assert len(flags) == 8 and all(flags)  # 2 stacks x 2 blocks x 2 steps, data-initialised


def test_nonfinite_steps_are_skipped_then_training_stops_keeping_the_checkpoint(
    synthetic_root, tmp_path, monkeypatch
):
    calls = 0
    forward = FullGlow.forward

    def poisoned_from_the_third_call(self, x, cond, side=None):
        nonlocal calls
        calls += 1
        loss = forward(self, x, cond, side)
        if calls >= 3:
            return FlowLoss(loss.total * float("nan"), loss.source_bpd, loss.target_bpd)
        return loss

    monkeypatch.setattr(FullGlow, "forward", poisoned_from_the_third_call)
    run = tmp_path / "run"
    config = tiny_config(synthetic_root, steps=20, checkpoint_every=2, max_nonfinite=2)
    with pytest.raises(TrainingError, match="2 consecutive steps.*last-00000002.pt is intact"):
        train(config, run)

    assert calls == 4
    records = read_training_log(run)
    assert [r["step"] for r in records if "skipped" in r] == [3, 4]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    checkpoint = latest_checkpoint(run)
    assert checkpoint["step"] == 2
    assert all(
        torch.isfinite(v).all() for v in checkpoint["model"].values() if v.is_floating_point()
    )
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["last-00000002.pt"]


def test_a_skipped_step_changes_neither_weights_nor_optimizer(synthetic_root):
    model = build_model("fullglow", "tiny", image_size=TINY_SIZE)
    x, cond = torch.rand(2, 3, *TINY_SIZE), torch.rand(2, 3, *TINY_SIZE)
    model.initialize(x, cond)
    batch = Batch(x=x, cond=cond, side=None, photo=x, label_colour=cond)

    class Diverged(nn.Module):
        def forward(self, x, cond, side=None):
            loss = model(x, cond, side)
            return FlowLoss(loss.total + float("inf"), loss.source_bpd, loss.target_bpd)

    objective = LikelihoodObjective(model, tiny_config(synthetic_root), total_steps=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    skipped = objective.step(Diverged(), batch)
    assert not skipped.finite
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert objective.optimizers["model"].state == {}

    taken = objective.step(model, batch)
    assert taken.finite and taken.terms["loss"] == pytest.approx(
        skipped.terms["target_bpd"] + 1e-4 * skipped.terms["source_bpd"], rel=1e-5
    )
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def _payload(step: int) -> dict:
    return {"format": FORMAT_VERSION, "step": step, "weights": torch.full((4096,), float(step))}


def test_a_failed_checkpoint_write_leaves_the_previous_one_loadable(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path, keep_last=2)
    store.save_last(_payload(1))

    def dies_halfway(obj, path):
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 the first bytes of a zip that never ends")
        raise OSError("no space left on device")

    monkeypatch.setattr(training_checkpoints.torch, "save", dies_halfway)
    with pytest.raises(OSError, match="no space"):
        store.save_last(_payload(2))
    monkeypatch.undo()

    assert [p.name for p in store.directory.iterdir()] == ["last-00000001.pt"]
    assert torch.equal(load_checkpoint(store.latest())["weights"], _payload(1)["weights"])

    # A process killed during a write leaves only a temporary name, ignored and then cleaned up.
    (store.directory / ".last-00000003.pt.x1y2.tmp").write_bytes(b"PK\x03\x04")
    assert store.latest().name == "last-00000001.pt"
    store.remove_stale_temporaries()
    for step in (2, 3):
        store.save_last(_payload(step))
    assert [p.name for p in store.last_paths()] == ["last-00000002.pt", "last-00000003.pt"]
    assert sorted(p.name for p in store.directory.iterdir()) == [
        "last-00000002.pt",
        "last-00000003.pt",
    ]


def test_a_truncated_checkpoint_is_reported_by_name(tmp_path):
    path = tmp_path / "last-00000001.pt"
    torch.save(_payload(1), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserInputError, match="last-00000001.pt: not a readable checkpoint"):
        load_checkpoint(path)


def test_a_run_folder_refuses_another_configuration(synthetic_root, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(synthetic_root, steps=1)
    train(config, run)
    written = (run / "train_config.json").read_text()
    assert json.loads(written) == config.to_dict()

    with pytest.raises(UserInputError, match=r"another configuration \(lr: 0.001 -> 0.0005\)"):
        train(dataclasses.replace(config, lr=5e-4), run)
    with pytest.raises(UserInputError, match="already holds checkpoints"):
        train(config, run)
    with pytest.raises(UserInputError, match="--resume cannot change model_options"):
        train(dataclasses.replace(config, model_options={"hidden_channels": 8}), run, resume=True)
    assert (run / "train_config.json").read_text() == written


def test_load_trained_model_names_the_folder_without_a_checkpoint(synthetic_root, tmp_path):
    with pytest.raises(UserInputError, match=f"{tmp_path}: no train_config.json"):
        load_trained_model(tmp_path)
    (tmp_path / "train_config.json").write_text(json.dumps(tiny_config(synthetic_root).to_dict()))
    with pytest.raises(UserInputError, match=f"{tmp_path}: no checkpoint in"):
        load_trained_model(tmp_path, "last")


def test_memory_saving_gives_the_plain_loss_and_gradients(synthetic_root, tmp_path, monkeypatch):
    # Directly: float32, with side information, as in training.
    model = build_model("fullglow", "tiny", image_size=TINY_SIZE, side_channels=1)
    x, cond = torch.rand(2, 3, *TINY_SIZE), torch.rand(2, 3, *TINY_SIZE)
    side = (torch.rand(2, 1, *TINY_SIZE) > 0.8).float()
    model.initialize(x, cond, side)

    def loss_and_grads(memory_saving: bool):
        model.zero_grad()
        model.memory_saving = memory_saving
        loss = model(x, cond, side)
        loss.total.backward()
        return torch.stack([loss.total, loss.source_bpd, loss.target_bpd]).detach(), [
            p.grad.clone() for p in model.parameters()
        ]

    plain_loss, plain_grads = loss_and_grads(False)
    saving_loss, saving_grads = loss_and_grads(True)
    assert torch.allclose(plain_loss, saving_loss, atol=1e-5, rtol=0)
    for plain, saving in zip(plain_grads, saving_grads, strict=True):
        assert torch.allclose(plain, saving, atol=1e-5, rtol=1e-5)

    # Through the trainer: --memory-saving runs the reversible steps and gives the same step.
    steps = 0
    apply = reversible._ReversibleStep.apply

    def counting_apply(*args):
        nonlocal steps
        steps += 1
        return apply(*args)

    monkeypatch.setattr(reversible._ReversibleStep, "apply", counting_apply)
    first = {}
    for memory_saving in (False, True):
        run = tmp_path / f"memory_saving_{memory_saving}"
        train(tiny_config(synthetic_root, steps=1, memory_saving=memory_saving, boundary=True), run)
        first[memory_saving] = read_training_log(run)[0]
    assert steps == 4  # one per joint flow step (2 blocks x 2), only in the memory-saving run
    for key in ("loss", "source_bpd", "target_bpd", "grad_norm"):
        assert first[True][key] == pytest.approx(first[False][key], rel=1e-5, abs=1e-5), key


def test_a_few_steps_lower_the_validation_bpd(synthetic_root, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(
        synthetic_root, steps=30, batch_size=4, val_every=30, val_batches=1, sample_every=30,
        n_samples=2,
    )  # fmt: skip
    result = train(config, run)

    values = {r["step"]: r["val_bpd"] for r in read_training_log(run) if "val_bpd" in r}
    assert sorted(values) == [0, 30]
    assert values[30] < values[0] - 0.3, values
    assert result.best_val == values[30] == result.final_val

    # best.pt holds the model that scored best_val: reloading it reproduces the value.
    model, loaded_config = load_trained_model(run, "best")
    assert loaded_config == config and not model.training
    val_set = CityscapesDataset(synthetic_root, "val", image_size=TINY_SIZE)
    batches = fixed_batches(val_set, 4, 4, config, 8, torch.device("cpu"))
    assert validate(model, batches) == pytest.approx(result.best_val, rel=1e-6)

    from PIL import Image

    grid = Image.open(run / "samples" / "step_00000030.png")
    assert grid.size == (4 * TINY_SIZE[1], 2 * TINY_SIZE[0])


def test_lr_schedule_warms_up_then_decays_linearly_to_zero():
    assert [lr_factor(s, 10, 4, "none", 0.5) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    decayed = [lr_factor(s, 10, 0, "linear", 0.6) for s in range(10)]
    assert decayed == pytest.approx([1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25])
    assert lr_factor(10, 10, 0, "linear", 0.6) == 0.0


def test_batch_noise_depends_on_the_global_slot_not_on_the_process(synthetic_root):
    dataset = CityscapesDataset(synthetic_root, "train", image_size=TINY_SIZE)
    samples = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    config = tiny_config(synthetic_root, boundary=True)
    kwargs = {"config": config, "n_bits": 8, "step": 5, "device": torch.device("cpu"), "flip": True}
    whole = prepare_batch(samples, slots=[0, 1, 2, 3], **kwargs)
    # Two processes of a world of 2: rank r holds global slots r, r + 2.
    for rank in (0, 1):
        part = type(samples)(*(field[rank::2] for field in samples))
        half = prepare_batch(part, slots=[rank, rank + 2], **kwargs)
        assert torch.equal(half.x, whole.x[rank::2])
        assert torch.equal(half.cond, whole.cond[rank::2])
        assert torch.equal(half.side, whole.side[rank::2])
    # Dequantized within the 8-bit bin of the image as read; another step draws other noise.
    offset = whole.x - torch.floor(whole.photo * 256).clamp(max=255) / 256
    assert (offset >= 0).all() and (offset < 1 / 256).all() and offset.std() > 1 / 2048
    flipped = [not torch.equal(whole.photo[i], samples.photo[i]) for i in range(4)]
    for i, was_flipped in enumerate(flipped):
        expected = samples.photo[i].flip(-1) if was_flipped else samples.photo[i]
        assert torch.equal(whole.photo[i], expected)
    later = prepare_batch(samples, slots=[0, 1, 2, 3], **{**kwargs, "step": 6})
    assert not torch.equal(later.x - later.photo, whole.x - whole.photo)


def test_resumable_sampler_skips_the_consumed_part_of_the_epoch_order():
    base = torch.utils.data.DistributedSampler(range(10), num_replicas=2, rank=1, seed=3)
    base.set_epoch(4)
    order = list(base)
    assert list(ResumableSampler(base, 2)) == order[2:]
    assert len(ResumableSampler(base, 2)) == len(order) - 2


def test_the_command_line_parses_into_a_train_config_with_model_options(tmp_path):
    from fullglow.cli import build_parser
    from fullglow.cli.commands.train import config_from_args

    args = build_parser().parse_args(
        [
            "train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--epochs", "3",
            "--model", "cglow-v2", "--n-flows", "8,8,16", "--hidden-channels", "256",
            "--conditioning", '{"coupling_channels": 64}', "--lr", "2e-4", "--image-size", "64x128",
            "--boundary", "--no-flip", "--decay", "linear", "--val-every", "0", "--bf16",
        ]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.bf16
    assert config.model_options == {
        "n_flows": [8, 8, 16],
        "hidden_channels": 256,
        "conditioning": {"coupling_channels": 64},
    }
    assert (config.model, config.epochs, config.steps, config.lr) == ("cglow-v2", 3, None, 2e-4)
    assert (config.image_size, config.boundary, config.flip) == ((64, 128), True, False)
    assert (config.decay, config.val_every, config.data) == ("linear", 0, str(tmp_path))
    with pytest.raises(SystemExit):  # --steps and --epochs exclude each other
        build_parser().parse_args(
            ["train", "--data", "d", "--out", "o", "--steps", "1", "--epochs", "1"]
        )


def test_train_command_sets_torch_threads_and_refuses_zero(synthetic_root, tmp_path, capsys):
    from fullglow.cli import main

    command = ["train", "--data", str(synthetic_root), "--out", str(tmp_path / "run"),
               "--preset", "tiny", "--image-size", "16x32", "--batch-size", "2", "--steps", "1",
               "--val-every", "0", "--sample-every", "0"]  # fmt: skip
    assert main([*command, "--threads", "0"]) == 2
    assert "--threads must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    torch.set_num_threads(2)
    assert main([*command, "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1


def test_time_budget_stops_cleanly_with_a_checkpoint(synthetic_root, tmp_path):
    result = train(tiny_config(synthetic_root, steps=50, time_budget_minutes=1e-6), tmp_path)
    assert (result.stopped, result.steps) == ("time budget", 1)
    assert latest_checkpoint(tmp_path)["step"] == 1


def test_pix2pix_alternates_discriminator_and_generator_steps(synthetic_root, tmp_path):
    config = tiny_config(
        synthetic_root, model="pix2pix", image_size=(32, 32), steps=2, lr=None, val_every=2,
        val_batches=1,
    )  # fmt: skip
    result = train(config, tmp_path)
    assert result.metric_name == "val_l1" and 0 < result.final_val < 1
    record = next(r for r in read_training_log(tmp_path) if r["step"] == 1)
    assert {"d_loss", "g_loss", "g_gan", "g_l1"} <= record.keys()
    # The generator's total is GAN + 100 * L1, as logged.
    assert record["g_loss"] == pytest.approx(record["g_gan"] + 100 * record["g_l1"], rel=1e-5)
    optimizers = latest_checkpoint(tmp_path)["objective"]["optimizers"]
    for name in ("generator", "discriminator"):
        group = optimizers[name]["param_groups"][0]
        assert (group["lr"], group["betas"]) == (2e-4, (0.5, 0.999))
        assert all(int(s["step"]) == 2 for s in optimizers[name]["state"].values())


def test_resuming_into_a_model_the_preset_now_configures_otherwise_is_refused(
    synthetic_root, tmp_path, monkeypatch
):
    from fullglow.models import registry

    config = tiny_config(synthetic_root, steps=2)
    train(config, tmp_path / "run")
    tiny = registry.FULLGLOW_PRESETS["tiny"]
    assert (tiny.coupling, tiny.scale_floor) == ("affine", 0.5)
    monkeypatch.setitem(
        registry.FULLGLOW_PRESETS, "tiny", dataclasses.replace(tiny, scale_floor=0.25)
    )
    with pytest.raises(UserInputError, match=r"scale_floor 0.5 -> 0.25.*preset changed"):
        train(dataclasses.replace(config, steps=4), tmp_path / "run", resume=True)
    # Its checkpoints still load, as the model they were written by.
    loaded, _ = load_trained_model(tmp_path / "run", checkpoint="last")
    assert loaded.config.scale_floor == 0.5
