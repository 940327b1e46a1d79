"""Two gloo processes under torchrun train the same weights as one process with the same
global batch, plainly and with memory saving, and their checkpoint resumes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ddp_memory_saving import FLOWS, flow_config, glow_steps
from fullglow.training import train
from fullglow.training.config import read_config
from test_training_support import (
    assert_same_state,
    latest_checkpoint,
    one_thread,  # noqa: F401 (fixture)
    tiny_config,
)


@pytest.mark.usefixtures("one_thread")
def test_two_gloo_processes_match_one_process_and_their_checkpoint_resumes(
    synthetic_root, tmp_path
):
    # float64: in float32, Adam's first steps turn rounding noise on the near-zero gradients left
    # by the data-dependent initialisation (e.g. of the biases it just set) into weight
    # differences of up to 2 * lr, however exact the distributed gradients are.
    single = tiny_config(synthetic_root, batch_size=4, steps=3, dtype="float64")
    ddp_run = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "fullglow", "train", "--model", "fullglow", "--preset", "tiny",
        "--data", str(synthetic_root), "--image-size", "16x32", "--batch-size", "4",
        "--lr", str(single.lr), "--steps", "2", "--val-every", "0", "--sample-every", "0",
        "--checkpoint-every", "0", "--log-every", "1", "--device", "cpu", "--dtype", "float64",
        "--out", str(ddp_run),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    ddp = latest_checkpoint(ddp_run)
    assert ddp["step"] == 2 and len(ddp["rng"]) == 2  # one random state per rank
    assert read_config(ddp_run) == dataclasses.replace(single, steps=2, device="cpu")

    train(dataclasses.replace(single, steps=2), tmp_path / "single")
    assert_same_state(ddp["model"], latest_checkpoint(tmp_path / "single")["model"], atol=1e-9)

    # The data noise is keyed by the global batch slot, so the 2-process run continues on one
    # process as if it had always run there.
    train(single, ddp_run, resume=True)
    train(single, tmp_path / "single", resume=True)
    assert_same_state(
        latest_checkpoint(ddp_run)["model"],
        latest_checkpoint(tmp_path / "single")["model"],
        atol=1e-9,
    )


@pytest.mark.usefixtures("one_thread")
def test_memory_saving_under_two_gloo_processes_trains_every_flow_as_one_process(
    synthetic_root, tmp_path
):
    # Issue 12: memory saving under DDP crashed ("Expected to mark a variable ready only once")
    # or, with static_graph, trained other weights than one process.
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        str(Path(__file__).with_name("ddp_memory_saving.py")), str(synthetic_root), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    for model in FLOWS:
        single = tmp_path / "single" / model
        train(flow_config(synthetic_root, model), single)
        assert_same_state(
            latest_checkpoint(tmp_path / model)["model"], latest_checkpoint(single)["model"], 1e-9
        )
    assert_same_state(torch.load(tmp_path / "glow.pt"), glow_steps(), atol=1e-9)
