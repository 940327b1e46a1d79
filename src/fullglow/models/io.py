"""Saving and loading models: safetensors weights plus a JSON config naming the model."""

from __future__ import annotations

import json
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


def load_model(
    directory: str | Path,
    map_location: str | torch.device = "cpu",
    expected: type | None = None,
) -> Any:
    """Rebuild a model from its directory with the registry, then load its weights."""
    from fullglow.models.registry import model_from_config

    directory = Path(directory)
    name, config = read_model_meta(directory)
    model = model_from_config(name, config)
    if expected is not None and not isinstance(model, expected):
        raise UserInputError(f"{directory} holds a {name!r} model, not a {expected.__name__}")
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise UserInputError(f"{weights}: missing weights file")
    model.load_state_dict(load_file(str(weights), device=str(map_location)))
    return model.to(map_location)
