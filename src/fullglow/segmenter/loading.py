"""Saving, loading and checking segmenters: our `PSPNet` directories, or any network exported
with `torch.export` (`.pt2`) or TorchScript.

A saved `PSPNet` is a directory with `segmenter.safetensors` (the weights) and `segmenter.json`
(its `SegmenterConfig`, so the directory alone rebuilds the network, and what training reported).
A `torch.export.save` file (`*.pt2`) or a TorchScript file (`torch.jit.save`, any other name) of
any network mapping photos `(B, 3, H, W)` in [0, 1] to logits `(B, K, H, W)` is accepted in its
place, e.g. a PSPNet trained elsewhere. Export it in eval mode with a dynamic batch dimension:

    torch.export.save(torch.export.export(net.eval(), (photos,),
                      dynamic_shapes=({0: torch.export.Dim("batch")},)), "seg.pt2")
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from fullglow.data.labels import NUM_CLASSES
from fullglow.errors import UserInputError
from fullglow.files import staged_directory
from fullglow.segmenter.network import PSPNet, SegmenterConfig

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


class ExportedSegmenter(nn.Module):
    """A `torch.export` program as a segmenter: `forward` runs its graph.

    The graph is fixed in the mode it was exported in (eval, for batch-norm statistics), so
    `train()` and `eval()` only set the flag (an exported module refuses them).
    """

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def train(self, mode: bool = True) -> ExportedSegmenter:
        self.training = mode
        return self

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        return self.graph(photos)


def _load_exported(path: Path) -> ExportedSegmenter:
    problem = f"{path} is not a torch.export program (torch.export.save)"
    # torch.export.load logs a traceback before it fails on a file that is no archive at all.
    if not zipfile.is_zipfile(path):
        raise UserInputError(f"{problem}: not a zip archive")
    try:
        program = torch.export.load(path)
    except (RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise UserInputError(f"{problem}: {err}") from None
    return ExportedSegmenter(program.module())


def load_segmenter(path: str | Path, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Load a segmenter directory (`save_segmenter`), a `torch.export` file (`*.pt2`) or a
    TorchScript file, on the CPU, for eval.

    The network maps photos `(B, 3, H, W)` in [0, 1] to logits `(B, K, H, W)`. A directory's
    class count is checked against `num_classes` here; a file's only when it runs, so call
    `check_segmenter` before relying on it.
    """
    path = Path(path)
    if path.is_dir():
        return _load_directory(path, num_classes)
    if not path.is_file():
        raise UserInputError(f"segmenter {path} does not exist")
    if path.suffix == ".pt2":
        return _load_exported(path)
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.export, but it is the format the
            # segmentation networks of other projects are shipped in.
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise UserInputError(
            f"{path} is neither a segmenter directory nor a TorchScript file (a torch.export "
            f"program must be named *.pt2): {err}"
        ) from None


@torch.no_grad()
def check_segmenter(
    model: nn.Module,
    image_size: tuple[int, int],
    num_classes: int = NUM_CLASSES,
    device: torch.device | str = "cpu",
) -> None:
    """Run a dummy photo `(1, 3, H, W)` on `device` and check the logits are `(1, K, H, W)`,
    then a batch of two, since evaluation segments photos in batches.

    Raises:
        UserInputError: the network fails on the photo or on the batch (an export with a fixed
            batch size), or its output has the wrong shape (the message names the expected and
            the actual shape).
    """
    height, width = image_size
    photo = torch.full((1, 3, height, width), 0.5, device=device)
    model.eval()
    try:
        logits = model(photo)
    except (RuntimeError, AssertionError, ValueError) as err:
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
    try:
        batch = model(photo.expand(2, -1, -1, -1))
    except (RuntimeError, AssertionError, ValueError) as err:
        raise UserInputError(
            f"the segmenter takes one photo but fails on a batch of two ({err}); export it with "
            'a dynamic batch dimension: dynamic_shapes=({0: torch.export.Dim("batch")},)'
        ) from None
    if tuple(batch.shape) != (2, *expected[1:]):
        raise UserInputError(
            f"the segmenter maps a batch of two photos to {tuple(batch.shape)}, "
            f"expected {(2, *expected[1:])}"
        )
