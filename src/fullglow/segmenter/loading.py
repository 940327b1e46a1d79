"""Saving, loading and checking segmenters: our `PSPNet` directories, or any network exported
with `torch.export` (`.pt2`) or TorchScript.

A saved `PSPNet` is a directory with `segmenter.safetensors` (the weights) and `segmenter.json`
(its `SegmenterConfig`, so the directory alone rebuilds the network, and what training reported).
A `torch.export.save` file (`*.pt2`) or a TorchScript file (`torch.jit.save`, any other name) of
any network mapping photos `(B, 3, H, W)` in [0, 1] to logits `(B, K, H, W)` is accepted in its
place, e.g. a PSPNet trained elsewhere. Export it in eval mode from a batch of two photos, with a
dynamic batch dimension and height and width as dynamic as the network allows (`Dim.AUTO` keeps a
side fixed when the network's code fixes it, e.g. a pooling to a fixed grid):

    from torch.export import Dim
    photos = torch.rand(2, 3, 256, 512)  # (B, 3, H, W) in [0, 1], at the evaluation's size
    program = torch.export.export(net.eval(), (photos,),
                                  dynamic_shapes=({0: Dim("batch"), 2: Dim.AUTO, 3: Dim.AUTO},))
    torch.export.save(program, "seg.pt2")

`net` must return the 19 train-id logits of Cityscapes at the photo's size: wrap a network that
normalises its input, returns an extra background logit or a smaller map, so that the wrapper does
it (e.g. `logits[:, :19]`, `F.interpolate(logits, photos.shape[-2:], mode="bilinear")`).
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
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
DYNAMIC_SHAPES = '{0: Dim("batch"), 2: Dim.AUTO, 3: Dim.AUTO}'
EXPORT_RECIPE = (
    "torch.export.save(torch.export.export(net.eval(), (torch.rand(2, 3, H, W),), "
    f'dynamic_shapes=({DYNAMIC_SHAPES},)), "seg.pt2") with net the wrapped network '
    "(photos (B, 3, H, W) in [0, 1] -> logits (B, 19, H, W)); see fullglow.segmenter.loading"
)


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


def _size_text(size: tuple[int | None, ...]) -> str:
    return "x".join("any" if side is None else str(side) for side in size)


class ExportedSegmenter(nn.Module):
    """A `torch.export` program as a segmenter: `forward` runs its graph.

    The graph is fixed in the mode it was exported in (eval, for batch-norm statistics), so
    `train()` and `eval()` only set the flag (an exported module refuses them).

    Attributes:
        input_shape: the photo shape `(B, 3, H, W)` the program accepts, None for a dimension
            exported as dynamic (None altogether when the program does not say).
    """

    def __init__(self, graph: nn.Module, input_shape: tuple[int | None, ...] | None = None) -> None:
        super().__init__()
        self.graph = graph
        self.input_shape = input_shape

    def train(self, mode: bool = True) -> ExportedSegmenter:
        self.training = mode
        return self

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        return self.graph(photos)

    def shape_problems(self, image_size: tuple[int, int]) -> list[str]:
        """What the exported shape forbids: a fixed batch size (evaluation segments batches) or
        a fixed height or width other than `image_size`; empty when nothing does."""
        if self.input_shape is None or len(self.input_shape) != 4:
            return []
        batch, _, height, width = self.input_shape
        problems = []
        exported = _size_text((height, width))
        if any(
            fixed not in (None, asked)
            for fixed, asked in zip((height, width), image_size, strict=True)
        ):
            problems.append(
                f"the segmenter was exported for {exported} photos (a fixed height or width), "
                f"not the {image_size[0]}x{image_size[1]} asked; evaluate at its size "
                f"(--image-size {exported}) or export it with dynamic height and width "
                f"(dynamic_shapes=({DYNAMIC_SHAPES},))"
            )
        if batch is not None:
            problems.append(
                f"the segmenter was exported for a fixed batch of {batch} and the evaluation "
                f"segments photos in batches; export it with a dynamic batch dimension "
                f"(dynamic_shapes=({DYNAMIC_SHAPES},), from a batch of two photos)"
            )
        return problems


def _static_side(side: int | torch.SymInt) -> int | None:
    """A dimension of an exported input: its size when fixed, None when dynamic."""
    if isinstance(side, int):
        return side
    expr = side.node.expr
    return int(expr) if expr.is_number else None


def _input_shape(program: torch.export.ExportedProgram) -> tuple[int | None, ...] | None:
    """The shape of the program's one user input (None for dynamic dimensions), if it has one."""
    user_inputs = program.graph_signature.user_inputs
    for node in program.graph.nodes:
        if node.op == "placeholder" and len(user_inputs) == 1 and node.name == user_inputs[0]:
            value = node.meta.get("val")
            if isinstance(value, torch.Tensor):
                return tuple(_static_side(side) for side in value.shape)
    return None


def _pickled_content(path: Path) -> str | None:
    """What a `torch.save` file holds, in words (None when `path` is no `torch.save` file).

    Only `weights_only` loading is tried, which runs no code from the file: it succeeds on a
    state dict (or a dict of them) and refuses a pickled module.
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        # TorchScript archives hold constants.pkl beside data.pkl; torch.save ones do not.
        if not any(n.endswith("data.pkl") for n in names) or any(
            n.endswith("constants.pkl") for n in names
        ):
            return None
    else:
        with open(path, "rb") as handle:
            if handle.read(1) != b"\x80":  # the opcode a pickle (protocol 2 or later) opens with
                return None
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError, ValueError):
        return "a pickled network or object (torch.save(model)), which needs its source code"
    if isinstance(content, Mapping):
        return "a state dict or checkpoint (torch.save of weights), weights without the network"
    return f"a torch.save file holding a {type(content).__name__}, not a network"


def _not_a_network(path: Path, content: str) -> UserInputError:
    return UserInputError(
        f"{path} is {content}; fullglow needs a network it can run without your code: build the "
        f"network, load the weights, wrap it and export it as a .pt2 file: {EXPORT_RECIPE}"
    )


def _load_exported(path: Path) -> ExportedSegmenter:
    problem = f"{path} is not a torch.export program (torch.export.save)"
    content = _pickled_content(path)
    if content is not None:
        raise _not_a_network(path, content)
    # torch.export.load logs a traceback before it fails on a file that is no archive at all.
    if not zipfile.is_zipfile(path):
        raise UserInputError(f"{problem}: not a zip archive")
    try:
        program = torch.export.load(path)
    except (RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise UserInputError(f"{problem}: {err}") from None
    return ExportedSegmenter(program.module(), _input_shape(program))


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
    content = _pickled_content(path)
    if content is not None:
        raise _not_a_network(path, content)
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
    if isinstance(model, ExportedSegmenter):
        problems = model.shape_problems(image_size)
        if problems:
            raise UserInputError("; ".join(problems))
    photo = torch.full((1, 3, height, width), 0.5, device=device)
    model.eval()
    try:
        logits = model(photo)
    except (RuntimeError, AssertionError, ValueError) as err:
        raise UserInputError(
            f"the segmenter fails on a (1, 3, {height}, {width}) photo ({err}); a network "
            f"exported or traced at another size, or for a fixed batch, needs dynamic batch, "
            f"height and width: {EXPORT_RECIPE}"
        ) from None
    expected = (1, num_classes, height, width)
    actual = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
    if actual != expected:
        hint = ""
        if isinstance(actual, tuple) and len(actual) == 4 and actual[1] == num_classes + 1:
            hint = (
                f"; it returns {num_classes + 1} logits per pixel, the {num_classes} classes and "
                f"one more (a background or void class, as ESPNet and many Cityscapes networks "
                f"have): drop the extra logit in a wrapper before exporting, e.g. "
                f"logits[:, :{num_classes}] when it comes last (logits[:, 1:] when first)"
            )
        raise UserInputError(
            f"the segmenter must map a (1, 3, {height}, {width}) photo to logits {expected} "
            f"({num_classes} classes at the photo's size), but it returns {actual}{hint}"
        )
    try:
        batch = model(photo.expand(2, -1, -1, -1))
    except (RuntimeError, AssertionError, ValueError) as err:
        raise UserInputError(
            f"the segmenter takes one photo but fails on a batch of two ({err}); export it with "
            f"a dynamic batch dimension, from a batch of two photos: {EXPORT_RECIPE}"
        ) from None
    if tuple(batch.shape) != (2, *expected[1:]):
        raise UserInputError(
            f"the segmenter maps a batch of two photos to {tuple(batch.shape)}, "
            f"expected {(2, *expected[1:])}"
        )
