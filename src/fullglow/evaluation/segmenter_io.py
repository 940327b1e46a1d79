"""Saving, loading and checking segmenters: our `PSPNet` directories or any TorchScript network.

A saved `PSPNet` is a directory with `segmenter.safetensors` (the weights) and `segmenter.json`
(its `SegmenterConfig`, so the directory alone rebuilds the network, and what training reported).
A TorchScript file (`torch.jit.save`) of any network mapping photos `(B, 3, H, W)` in [0, 1] to
logits `(B, K, H, W)` is accepted in its place, e.g. a PSPNet trained elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from fullglow.data.labels import NUM_CLASSES
from fullglow.errors import UserInputError
from fullglow.evaluation.segmenter import PSPNet, SegmenterConfig
from fullglow.files import staged_directory

WEIGHTS_FILE = "segmenter.safetensors"
CONFIG_FILE = "segmenter.json"
FORMAT = "fullglow-segmenter/1"


def check_output_path(path: Path) -> None:
    """Raise `UserInputError` unless `path` is new or a segmenter directory that may be replaced."""
    if path.exists() and not (path.is_dir() and (path / CONFIG_FILE).is_file()):
        raise UserInputError(
            f"{path} exists and is not a segmenter directory (no {CONFIG_FILE}): "
            "refusing to overwrite it; choose a new output path"
        )


def save_segmenter(model: PSPNet, path: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write `model` as a segmenter directory at `path`, replacing an older one atomically.

    Both files are written to a temporary sibling directory that is then renamed to `path`, so an
    interruption leaves either the old directory or the new one, never half of one. `info` (JSON
    values, e.g. training steps and validation scores) is stored beside the config.
    """
    path = Path(path)
    check_output_path(path)
    weights = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    meta = {"format": FORMAT, "config": dataclasses.asdict(model.config), "info": info or {}}
    with staged_directory(path, overwrite=True) as staging:
        save_file(weights, staging / WEIGHTS_FILE)
        (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return path


def _read_config(config_path: Path) -> SegmenterConfig:
    if not config_path.is_file():
        raise UserInputError(
            f"{config_path.parent} has no {CONFIG_FILE}: not a segmenter directory"
        )
    try:
        meta = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{config_path} is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserInputError(f"{config_path} is not a {FORMAT!r} config")
    try:
        fields = dict(meta["config"])
        fields["pool_bins"] = tuple(fields["pool_bins"])
        fields["image_size"] = tuple(fields["image_size"])
        return SegmenterConfig(**fields)
    except (KeyError, TypeError, ValueError) as err:
        raise UserInputError(f"{config_path} holds an invalid segmenter config: {err!r}") from None


def _load_directory(path: Path, num_classes: int) -> PSPNet:
    config = _read_config(path / CONFIG_FILE)
    if config.num_classes != num_classes:
        raise UserInputError(
            f"segmenter {path} predicts {config.num_classes} classes, expected {num_classes}"
        )
    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise UserInputError(f"segmenter {path} has no {WEIGHTS_FILE}")
    model = PSPNet(config)
    model.load_state_dict(load_file(weights_path))
    return model.eval()


def load_segmenter(path: str | Path, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Load a segmenter directory (`save_segmenter`) or a TorchScript file, on the CPU, for eval.

    The network maps photos `(B, 3, H, W)` in [0, 1] to logits `(B, K, H, W)`. A directory's
    class count is checked against `num_classes` here; a TorchScript network's only when it runs,
    so call `check_segmenter` before relying on it.
    """
    path = Path(path)
    if path.is_dir():
        return _load_directory(path, num_classes)
    if not path.is_file():
        raise UserInputError(f"segmenter {path} does not exist")
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.export, but it is the format the
            # segmentation networks of other projects are shipped in.
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise UserInputError(
            f"{path} is neither a segmenter directory nor a TorchScript file: {err}"
        ) from None


@torch.no_grad()
def check_segmenter(
    model: nn.Module,
    image_size: tuple[int, int],
    num_classes: int = NUM_CLASSES,
    device: torch.device | str = "cpu",
) -> None:
    """Run one dummy photo `(1, 3, H, W)` on `device` and check the logits are `(1, K, H, W)`.

    Raises:
        UserInputError: the network fails on the photo, or its output has the wrong shape (the
            message names the expected and the actual shape).
    """
    height, width = image_size
    photo = torch.full((1, 3, height, width), 0.5, device=device)
    model.eval()
    try:
        logits = model(photo)
    except RuntimeError as err:
        raise UserInputError(
            f"the segmenter fails on a (1, 3, {height}, {width}) photo: {err}"
        ) from None
    expected = (1, num_classes, height, width)
    actual = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
    if actual != expected:
        raise UserInputError(
            f"the segmenter must map a (1, 3, {height}, {width}) photo to logits {expected} "
            f"({num_classes} classes at the photo's size), but it returns {actual}"
        )
