"""What the page's buttons do with the model: sample photos for a label, score them, transfer a
photo's content, and pack a painted scene with its photos as a Cityscapes frame set (no Gradio here).
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from fullglow.data.cityscapes import COLOUR_SUFFIX, LABEL_IDS_SUFFIX, PHOTO_SUFFIX
from fullglow.data.item import instance_boundaries
from fullglow.data.labels import label_ids_to_colours
from fullglow.errors import UserInputError
from fullglow.files import atomic_write
from fullglow.synthesis.augment import candidate_bits_per_dim
from fullglow.synthesis.generation import (
    check_sampling_options,
    generate,
    model_condition,
    side_input,
    to_model,
)
from fullglow.synthesis.images import diverged_samples, photo_tensor, to_uint8
from fullglow.synthesis.seeds import derive_seed
from fullglow.synthesis.transfer import content_transfer, divergence_message

MAX_SAMPLES = 16
"""The most photos one click asks for."""

ZIP_SPLIT = "train"
"""The split a downloaded scene lands in, ready to join a training set."""

ZIP_CITY = "painted"


@dataclass(frozen=True)
class SamplingSettings:
    """One click's request: `count` photos at `temperature` (ignored by pix2pix) from `seed`;
    for a flow, `guidance` (the weight `w` against the null label; None: unguided) and
    `denoise_sigma` (one score step of that sigma after sampling; None: none), the options of
    `fullglow.synthesis.generation.generate`. The page reads everything it asks the model through
    this class, and shows a control only for the options the run was trained for (`fullglow.training.runs.RunOptions`).
    """

    temperature: float = 0.8
    count: int = 4
    seed: int = 0
    guidance: float | None = None
    denoise_sigma: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise UserInputError(f"temperature must be a number >= 0, got {self.temperature}")
        check_sampling_options(self.denoise_sigma, self.guidance)
        if not 1 <= self.count <= MAX_SAMPLES:
            raise UserInputError(f"number of samples must be 1..{MAX_SAMPLES}, got {self.count}")
        if not 0 <= self.seed < 2**63:
            raise UserInputError(f"seed must be 0..2**63-1, got {self.seed}")


@dataclass(frozen=True)
class Photos:
    """Generated photos `(N, H, W, 3)` uint8 and, for a flow, each one's bits/dim (`None` for
    pix2pix); `diverged` marks samples whose decoding was not finite (saved black)."""

    images: np.ndarray
    bits_per_dim: tuple[float, ...] | None
    diverged: tuple[bool, ...]

    def captions(self) -> list[str]:
        """One caption per photo: "sample k: B bits/dim" (flows), "sample k" (pix2pix)."""
        captions = []
        for k, diverged in enumerate(self.diverged):
            if diverged:
                captions.append(f"sample {k + 1}: diverged (not finite, shown black)")
            elif self.bits_per_dim is None:
                captions.append(f"sample {k + 1}")
            else:
                captions.append(f"sample {k + 1}: {self.bits_per_dim[k]:.2f} bits/dim")
        return captions


def label_inputs(
    model: nn.Module, label_ids: np.ndarray, count: int
) -> tuple[Tensor, Tensor | None]:
    """The model's inputs for label ids `(H, W)`, repeated `count` times: the colour label
    `(count, 3, H, W)` prepared as every other path prepares it (`model_condition`), and the side
    input (class-edge boundaries `(count, 1, H, W)`, or None)."""
    colour = model_condition(model, photo_tensor(label_ids_to_colours(label_ids))[None])
    boundary = torch.from_numpy(instance_boundaries(label_ids)).float()[None, None]
    side = side_input(model, to_model(model, boundary))
    repeat = (count, 1, 1, 1)
    return colour.repeat(repeat), None if side is None else side.repeat(repeat)


@torch.no_grad()
def sample_photos(model: nn.Module, label_ids: np.ndarray, settings: SamplingSettings) -> Photos:
    """`settings.count` photos for one label `(H, W)` at the model's size, from `settings.seed`.

    The noise of all samples is drawn in one batch from one generator, so a seed gives the same
    photos every time; a flow's photos are also scored as saved, photo `k` dequantized with noise
    seeded by `derive_seed(seed, k)` (`fullglow.synthesis.augment.candidate_bits_per_dim`).
    """
    cond, side = label_inputs(model, label_ids, settings.count)
    generator = torch.Generator(device=cond.device).manual_seed(settings.seed)
    temperature = settings.temperature if model.has_likelihood else None
    raw = generate(
        model, cond, side, temperature, generator, settings.denoise_sigma, settings.guidance
    )
    diverged = diverged_samples(raw)
    images = to_uint8(raw)
    scores = None
    if model.has_likelihood:
        saved = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
        seeds = [derive_seed(settings.seed, k) for k in range(settings.count)]
        scores = tuple(float(v) for v in candidate_bits_per_dim(model, saved, cond, side, seeds))
    return Photos(images, scores, tuple(bool(v) for v in diverged.cpu()))


@torch.no_grad()
def transfer_content(
    model: nn.Module,
    photo: np.ndarray,
    label_ids: np.ndarray,
    new_label_ids: np.ndarray,
    scale: float,
) -> np.ndarray:
    """The content of `photo` `(H, W, 3)` uint8 (label `label_ids`) under `new_label_ids`, all at
    the model's size: `(H, W, 3)` uint8.

    Raises:
        UserInputError: the model has no encoder, a bad scale, or the decoding diverged (the
            message the `fullglow transfer` command gives).
    """
    cond, side = label_inputs(model, label_ids, 1)
    new_cond, new_side = label_inputs(model, new_label_ids, 1)
    x = to_model(model, photo_tensor(photo)[None])
    result = content_transfer(model, x, cond, new_cond, side, new_side, scale=scale)
    if bool(diverged_samples(result).any()):
        raise UserInputError(divergence_message("the uploaded photo", "the painted label", scale))
    return to_uint8(result)[0]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def frame_stem(label_ids: np.ndarray, settings: SamplingSettings) -> str:
    """`painted_DDDDDD` from a digest of the label and settings, so two downloads rarely collide."""
    digest = hashlib.sha256(np.ascontiguousarray(label_ids).tobytes())
    digest.update(repr(settings).encode())
    return f"{ZIP_CITY}_{int(digest.hexdigest()[:8], 16) % 10**6:06d}"


def zip_members(label_ids: np.ndarray, photos: Sequence[np.ndarray], stem: str) -> dict[str, bytes]:
    """The files of a scene in the Cityscapes layout, one frame per photo (`{stem}_{k:06d}`):
    `gtFine/train/painted/*_gtFine_labelIds.png` and `*_gtFine_color.png` (the same label for
    every frame) and `leftImg8bit/train/painted/*_leftImg8bit.png`."""
    labels = _png(np.ascontiguousarray(label_ids, dtype=np.uint8))
    colours = _png(label_ids_to_colours(label_ids))
    members = {}
    for k, photo in enumerate(photos):
        frame = f"{stem}_{k:06d}"
        gt = f"gtFine/{ZIP_SPLIT}/{ZIP_CITY}/{frame}"
        members[f"{gt}{LABEL_IDS_SUFFIX}"] = labels
        members[f"{gt}{COLOUR_SUFFIX}"] = colours
        members[f"leftImg8bit/{ZIP_SPLIT}/{ZIP_CITY}/{frame}{PHOTO_SUFFIX}"] = _png(photo)
    return members


def write_scene_zip(
    path: Path, label_ids: np.ndarray, photos: Sequence[np.ndarray], stem: str
) -> Path:
    """Write `zip_members` to the zip file `path`, atomically; returns `path`."""

    def write(temporary: Path) -> None:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in zip_members(label_ids, photos, stem).items():
                archive.writestr(name, data)

    atomic_write(path, write)
    return path
