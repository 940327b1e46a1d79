"""Loading any saved model by its registry name (the format is `fullglow.models.saved`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fullglow.errors import UserInputError
from fullglow.models.registry import model_from_config
from fullglow.models.saved import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_weights,
    read_model_meta,
    save_model,
)

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "load_model", "read_model_meta", "save_model"]


def load_model(
    directory: str | Path,
    map_location: str | torch.device = "cpu",
    expected: type | None = None,
) -> Any:
    """Rebuild a model from its directory with the registry, then load its weights."""
    directory = Path(directory)
    name, config = read_model_meta(directory)
    model = model_from_config(name, config)
    if expected is not None and not isinstance(model, expected):
        raise UserInputError(f"{directory} holds a {name!r} model, not a {expected.__name__}")
    load_weights(model, directory, map_location)
    return model.to(map_location)
