"""The saved-model format: a directory with `config.json` (the model's name and config) and
`model.safetensors` (its weights). Loading a model by name is `fullglow.models.io.load_model`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from fullglow.errors import UserInputError
from fullglow.files import atomic_write, atomic_write_text
from fullglow.models.config import config_to_dict

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_model(model: nn.Module, directory: str | Path) -> None:
    """Write `config.json` (`{"model": name, "config": {...}}`) and `model.safetensors`.

    Both files are written to temporary names and renamed, so an interrupted save never leaves a
    half-written file behind.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"model": model.name, "config": config_to_dict(model.config)}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_FILE, lambda path: save_file(state, str(path)))
    atomic_write_text(directory / CONFIG_FILE, json.dumps(meta, indent=2) + "\n")


def read_model_meta(directory: str | Path) -> tuple[str, dict[str, Any]]:
    """The model name and config dict stored in `directory/config.json`."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise UserInputError(
            f"{path}: no model config here (expected a directory saved by fullglow)"
        )
    try:
        meta = json.loads(path.read_text())
        return str(meta["model"]), dict(meta["config"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserInputError(f"{path}: not a fullglow model config ({err})") from err


def load_weights(model: nn.Module, directory: str | Path, map_location: str | torch.device) -> None:
    """Load `directory/model.safetensors` into `model` (which maps old key layouts on load)."""
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise UserInputError(f"{weights}: missing weights file")
    model.load_state_dict(load_file(str(weights), device=str(map_location)))


_WRAPPED_STEP = re.compile(r"steps\.(\d+)\.step\.")


def accept_wrapped_step_keys(level: nn.Module) -> None:
    """Let `level` load weights saved before issue 12, when C-Glow and Dual-Glow wrapped each
    flow step in a chain adapter: `<level>.steps.<k>.step.<name>` is read as
    `<level>.steps.<k>.<name>`, today's layout (that of Glow and Full-Glow all along)."""

    def rename(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        for key in [k for k in state_dict if k.startswith(prefix + "steps.")]:
            renamed = prefix + _WRAPPED_STEP.sub(r"steps.\1.", key[len(prefix) :], count=1)
            if renamed != key:
                state_dict[renamed] = state_dict.pop(key)

    level._register_load_state_dict_pre_hook(rename)
