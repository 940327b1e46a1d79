"""Content transfer (paper, section 5.4): the content of one photo under another segmentation.

With `x1_b` the photo whose content is wanted, `x1_a` its label and `x2_a` the new structure,

    z1_b  = f(x1_b | g(x1_a))          (encode the photo under its own label)
    x_new = f^-1(z1_b | g(x2_a))       (decode the same latents under the new label)

where `g` is the source Glow and `f` the conditional target Glow. With `x2_a = x1_a` this is the
model's exact inverse, so the photo comes back unchanged.

Under another label the inverse can diverge: every affine coupling's inverse divides by
`s = sigmoid(o1 + 2)`, which goes to 0 when the coupling network sees activations unlike its
training data, so an out-of-distribution latent grows from step to step until it overflows. A
briefly trained model does this for most label pairs (a 900-step demo-preset model: 55 of 56 pairs
of val frames). Scaling the latents (`scale`, the sampling temperature's counterpart) keeps them
nearer the typical set and makes most transfers finite (at 0.7: 47 of 56). A model built with
`coupling="additive"` cannot overflow this way: its couplings' inverses only subtract; one with
`scale_floor=0.5` (the presets outside `paper-*`) multiplies by at most 2 per coupling, and
transferred every one of 3 x 56 pairs at scale 1.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from fullglow.data.cityscapes import (
    COLOUR_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_IDS_SUFFIX,
    PHOTO_SUFFIX,
)
from fullglow.data.image_io import read_instance_ids, read_label_ids, read_rgb
from fullglow.data.item import Sample, instance_boundaries, make_sample
from fullglow.data.labels import colours_to_label_ids, label_ids_to_colours, label_ids_to_train_ids
from fullglow.data.resizing import resize_nearest, resize_photo
from fullglow.errors import UserInputError
from fullglow.files import check_new_output
from fullglow.synthesis.generation import model_condition, side_input, to_model
from fullglow.synthesis.images import atomic_png, diverged_samples, photo_tensor, to_uint8
from fullglow.synthesis.sheet import FigureColumn, compose_figure
from fullglow.training.runs import LoadedRun

log = logging.getLogger(__name__)

SINGLE_CHANNEL_MODES = frozenset({"L", "P", "I", "I;16", "I;16B", "I;16L"})


@torch.no_grad()
def content_transfer(
    model: nn.Module,
    photo: Tensor,
    label: Tensor,
    new_label: Tensor,
    side: Tensor | None = None,
    new_side: Tensor | None = None,
    scale: float = 1.0,
) -> Tensor:
    """Photos `(B, 3, H, W)`: the content of `photo` decoded under `new_label`.

    The result may hold non-finite values where the inverse diverged (see the module docstring);
    `diverged_samples` finds them.

    Args:
        model: a conditional flow (with `encode`/`decode`).
        photo: `(B, 3, H, W)` in [0, 1], the content `x1_b`.
        label, new_label: `(B, 3, H, W)` colour label maps `x1_a` (the photo's) and `x2_a`, as
            read: they are prepared as every use prepares the condition
            (`fullglow.synthesis.generation.model_condition`).
        side, new_side: their boundary maps `(B, 1, H, W)` when the model takes side information.
        scale: the latents are multiplied by it before decoding (1: the exact transfer).

    Raises:
        UserInputError: the model has no encoder (pix2pix), or `scale` is not a finite number > 0.
    """
    if not model.has_likelihood:
        raise UserInputError(
            f"content transfer needs a flow that encodes photos; {type(model).__name__} cannot"
        )
    if not (math.isfinite(scale) and scale > 0):
        raise UserInputError(f"the latent scale must be a finite number > 0, got {scale}")
    latents = [scale * z for z in model.encode(photo, model_condition(model, label), side)]
    return model.decode(latents, model_condition(model, new_label), new_side)


def divergence_message(content: str, structure: str, scale: float) -> str:
    """What to tell a user whose transfer of `content` to `structure` diverged at `scale`."""
    return (
        f"decoding the content of {content} under {structure} diverged (the result is not "
        f"finite at latent scale {scale:g}): the model cannot carry this content to that "
        "structure; a smaller scale (for example 0.7) or a longer-trained model helps"
    )


def _read_label_ids(path: Path) -> np.ndarray:
    """Label ids `(H, W)` of a `*_labelIds.png` (one channel) or a colour label image (RGB)."""
    if not path.is_file():
        raise UserInputError(f"{path}: file not found")
    with Image.open(path) as image:
        mode = image.mode
    if mode in SINGLE_CHANNEL_MODES:
        return read_label_ids(path)
    return colours_to_label_ids(read_rgb(path), str(path))


def _instances_beside(path: Path) -> Path | None:
    """The `*_gtFine_instanceIds.png` next to a `*_labelIds.png` or `*_color.png`, if any."""
    for suffix in (LABEL_IDS_SUFFIX, COLOUR_SUFFIX):
        if path.name.endswith(suffix):
            sibling = path.with_name(path.name[: -len(suffix)] + INSTANCE_SUFFIX)
            return sibling if sibling.is_file() else None
    return None


def _photo_beside(label_path: Path) -> Path | None:
    """The photo of a label file in the Cityscapes layout, if it exists: for
    `ROOT/gtFine/S/C/X_gtFine_labelIds.png` (or `_color`), `ROOT/leftImg8bit/S/C/X_leftImg8bit.png`.
    """
    for suffix in (LABEL_IDS_SUFFIX, COLOUR_SUFFIX):
        if label_path.name.endswith(suffix):
            city = label_path.parent
            split = city.parent
            if split.parent.name != "gtFine":
                return None
            stem = label_path.name[: -len(suffix)]
            photo = (
                split.parent.parent
                / "leftImg8bit"
                / split.name
                / city.name
                / f"{stem}{PHOTO_SUFFIX}"
            )
            return photo if photo.is_file() else None
    return None


def read_condition(path: str | Path, image_size: tuple[int, int]) -> tuple[Sample, tuple[int, int]]:
    """A label file as a one-frame `Sample` at `image_size` (photo all zeros), and its file size.

    The label may be label ids or official colours. Boundaries come from the instance map beside
    it (`*_gtFine_instanceIds.png`) when there is one, else from the edges between classes.
    """
    path = Path(path)
    label_ids = _read_label_ids(path)
    instance_path = _instances_beside(path)
    instances = label_ids if instance_path is None else read_instance_ids(instance_path)
    if instances.shape != label_ids.shape:
        raise UserInputError(f"{instance_path}: size differs from its label {path}")
    file_size = (int(label_ids.shape[0]), int(label_ids.shape[1]))
    label_ids = resize_nearest(label_ids, image_size)
    sample = make_sample(
        np.zeros((*image_size, 3), dtype=np.uint8),
        label_ids_to_colours(label_ids, str(path)),
        label_ids_to_train_ids(label_ids, str(path)),
        instance_boundaries(resize_nearest(instances, image_size)),
        flip=False,
    )
    return sample, file_size


def transfer_files(
    run: LoadedRun,
    content_photo: str | Path,
    content_label: str | Path,
    structure_label: str | Path,
    out: str | Path,
    overwrite: bool = False,
    scale: float = 1.0,
    figure: str | Path | None = None,
) -> Path:
    """Content transfer between files; writes the synthesized photo (PNG) to `out`, atomically.

    The photo and labels are resized to the model's size (photo bicubic, labels nearest);
    `scale` multiplies the latents (see `content_transfer`). `figure` (a PNG path) also gets the
    paper's Figure 3 row: desired content, desired structure, synthesized image and, when the
    structure label sits in a Cityscapes layout with its photo, that photo.

    Raises:
        UserInputError: unreadable files, a content photo and label of different sizes, a model
            without encoder, an existing `out` or `figure` without `overwrite`, a bad `scale`,
            or a transfer whose decoding diverged (nothing is written then).
    """
    out = Path(out)
    check_new_output(out, overwrite)
    if figure is not None:
        check_new_output(Path(figure), overwrite)
    size = run.image_size
    photo_array = read_rgb(Path(content_photo))
    label, label_size = read_condition(content_label, size)
    if photo_array.shape[:2] != label_size:
        raise UserInputError(
            f"{content_photo} is {photo_array.shape[0]}x{photo_array.shape[1]} but its label "
            f"{content_label} is {label_size[0]}x{label_size[1]}"
        )
    if label_size != size:
        log.info("resizing the inputs from %dx%d to the model's %dx%d", *label_size, *size)
    structure, _ = read_condition(structure_label, size)
    photo = photo_tensor(resize_photo(photo_array, size))
    model = run.model
    result = content_transfer(
        model,
        to_model(model, photo[None]),
        label.label_colour[None],
        structure.label_colour[None],
        side_input(model, to_model(model, label.boundary[None])),
        side_input(model, to_model(model, structure.boundary[None])),
        scale=scale,
    )
    if bool(diverged_samples(result).any()):
        raise UserInputError(divergence_message(str(content_photo), str(structure_label), scale))
    atomic_png(out, to_uint8(result)[0])
    if figure is not None:
        atomic_png(Path(figure), _figure(photo, structure, result, Path(structure_label), size))
    return out


def _figure(
    photo: Tensor, structure: Sample, result: Tensor, structure_label: Path, size: tuple[int, int]
) -> np.ndarray:
    columns = [
        FigureColumn("Desired content", photo[None]),
        FigureColumn("Desired structure", structure.label_colour[None]),
        FigureColumn("Synthesized image", result.float().cpu()),
    ]
    truth = _photo_beside(structure_label)
    if truth is not None:
        columns.append(
            FigureColumn(
                "Ground truth for structure",
                photo_tensor(resize_photo(read_rgb(truth), size))[None],
            )
        )
    return compose_figure(columns)
