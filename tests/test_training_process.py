"""`fullglow train` as a process: SIGTERM saves a checkpoint, exits, and the run resumes."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from fullglow.training import train
from fullglow.training.config import read_config
from fullglow.training.metrics_log import read_training_log
from test_training_support import latest_checkpoint, one_thread  # noqa: F401 (fixture)


def _wait_for_steps(run_dir, proc: subprocess.Popen, steps: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"train exited early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        try:
            if len([r for r in read_training_log(run_dir) if "loss" in r]) >= steps:
                return
        except ValueError:  # a line being written
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no {steps} training steps within {timeout} s")


@pytest.mark.usefixtures("one_thread")
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(synthetic_root, tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "fullglow", "train", "--model", "fullglow", "--preset", "tiny",
        "--data", str(synthetic_root), "--image-size", "16x32", "--batch-size", "2",
        "--steps", "100000", "--val-every", "0", "--sample-every", "0",
        "--checkpoint-every", "0", "--log-every", "1", "--device", "cpu", "--out", str(run),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    _wait_for_steps(run, proc, 2, timeout=60)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)

    # No periodic checkpoints were asked for: this one is the signal's.
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "SIGTERM after" in stdout
    checkpoint = latest_checkpoint(run)
    stopped_at = checkpoint["step"]
    assert stopped_at >= 2
    assert max(r["step"] for r in read_training_log(run)) == stopped_at

    config = dataclasses.replace(read_config(run), steps=stopped_at + 2)
    result = train(config, run, resume=True)
    assert (result.steps, result.stopped) == (stopped_at + 2, "finished")
    assert [r["step"] for r in read_training_log(run)] == list(range(1, stopped_at + 3))
