"""Load the model a training run produced: `load_trained_model(RUN)`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from fullglow.errors import UserInputError
from fullglow.models.registry import model_from_config
from fullglow.training.checkpoints import CheckpointStore, load_checkpoint
from fullglow.training.config import CONFIG_FILE, TrainConfig, read_config

log = logging.getLogger(__name__)


def load_trained_model(
    run_dir: Path | str,
    checkpoint: Literal["best", "last"] = "best",
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, TrainConfig]:
    """The model of a run folder (rebuilt from its checkpoint, in eval mode) and its config.

    `checkpoint="best"` takes `best.pt` (the best validation value); a run that never validated
    has none, and its newest `last-*.pt` is used instead (with a warning). `"last"`: the newest.
    A run trained with `--ema` gives its averaged weights (the checkpoint's `"ema"`).

    Raises:
        UserInputError: `run_dir` is not a training run or holds no checkpoint.
    """
    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise UserInputError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    config = read_config(run_dir)
    if config is None:
        raise UserInputError(
            f"{run_dir}: no {CONFIG_FILE}; not a folder written by `fullglow train`"
        )
    store = CheckpointStore(run_dir, keep_last=1)
    path = store.latest()
    if checkpoint == "best":
        if store.best_path.is_file():
            path = store.best_path
        elif path is not None:
            log.warning(
                "%s: no %s (never validated); using %s", run_dir, store.best_path.name, path.name
            )
    if path is None:
        raise UserInputError(
            f"{run_dir}: no checkpoint in {store.directory} (the run stopped before its first "
            "checkpoint, or this is not a training run folder)"
        )
    payload = load_checkpoint(path, map_location)
    model = model_from_config(payload["model_name"], dict(payload["model_config"]))
    averaged = payload.get("ema")
    if averaged is not None:
        log.info("%s: loading the exponential moving average of the weights", path.name)
    model.load_state_dict(averaged if averaged is not None else payload["model"])
    return model.to(map_location).eval(), config
