"""The page's handlers as plain methods on numpy arrays and file paths (no Gradio here), so tests
call them directly. Bad input raises `UserInputError`, which the page shows as a message.

The editor's value is Gradio's `EditorValue` shape, a dict with `background`, `layers` and
`composite` `(H', W', 3 or 4)` uint8 arrays; only `composite` (what the user sees) is read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from fullglow.app.canvas import (
    canvas_image,
    canvas_to_label,
    empty_scene,
    fit_to_model,
    read_uploaded_label,
    read_uploaded_photo,
)
from fullglow.app.synthesis import (
    Photos,
    SamplingSettings,
    frame_stem,
    sample_photos,
    transfer_content,
    write_scene_zip,
)
from fullglow.data.cityscapes import CityscapesDataset
from fullglow.data.resizing import resize_photo
from fullglow.errors import UserInputError
from fullglow.training.runs import RunOptions

EditorValue = dict[str, Any]
"""`{"background": array, "layers": [array, ...], "composite": array}`, as Gradio's ImageEditor."""


def editor_value(label_ids: np.ndarray, image_size: tuple[int, int]) -> EditorValue:
    """A fresh canvas showing `label_ids` (at the model's size) as its background."""
    canvas = canvas_image(label_ids, image_size)
    return {"background": canvas, "layers": [], "composite": canvas}


@dataclass(frozen=True)
class Generated:
    """One click's result: the photos with their captions and the zip of the scene."""

    photos: Photos
    captions: list[str]
    zip_path: Path


@dataclass(frozen=True)
class TransferSource:
    """The content tab's uploads at the model's size: photo `(H, W, 3)` uint8 and its label ids."""

    photo: np.ndarray
    label_ids: np.ndarray


class PageHandlers:
    """Everything the page does, for one loaded model.

    Args:
        model: the loaded network in eval mode (a flow or pix2pix).
        labels_root: a dataset in the Cityscapes layout whose val labels the page offers, or None.
        outputs: the folder the zips are written to (the only files the page serves).
        options: the sampling options the run was trained for (guidance, denoising); None: none.
    """

    def __init__(
        self,
        model: nn.Module,
        labels_root: Path | None,
        outputs: Path,
        options: RunOptions | None = None,
    ) -> None:
        self.model = model
        self.options = options or RunOptions()
        self.image_size: tuple[int, int] = tuple(int(s) for s in model.config.image_size)
        self.outputs = Path(outputs)
        self.val_labels = (
            None
            if labels_root is None
            else CityscapesDataset(labels_root, "val", require_photos=False)
        )

    @property
    def has_likelihood(self) -> bool:
        return bool(self.model.has_likelihood)

    def val_names(self) -> list[str]:
        """`city/stem` of every val label of DATA (empty without DATA)."""
        if self.val_labels is None:
            return []
        return [f"{r.city}/{r.stem}" for r in self.val_labels.records]

    def empty(self) -> EditorValue:
        """The bare street: sky, sidewalk and road bands."""
        return editor_value(empty_scene(self.image_size), self.image_size)

    def from_val(self, name: str) -> tuple[EditorValue, str]:
        """The canvas for DATA's val label `name` (`city/stem`), and a note if it was resized."""
        names = self.val_names()
        if name not in names:
            raise UserInputError(f"no val label {name!r} in the dataset")
        label_ids = self.val_labels.load_label_ids(names.index(name))
        fitted = fit_to_model(label_ids, self.image_size, name)
        return editor_value(fitted.label_ids, self.image_size), fitted.note

    def from_upload(self, path: str | None) -> tuple[EditorValue, str]:
        """The canvas for an uploaded `*_labelIds.png` or colour label, and a resize note."""
        if path is None:
            raise UserInputError("choose a label file to upload")
        fitted = fit_to_model(read_uploaded_label(path), self.image_size, "the uploaded label")
        return editor_value(fitted.label_ids, self.image_size), fitted.note

    def label_of(self, value: EditorValue | None) -> np.ndarray:
        """Label ids `(H, W)` at the model's size of what the canvas shows."""
        if value is None or value.get("composite") is None:
            raise UserInputError("the canvas is empty: start from a scene first")
        return canvas_to_label(np.asarray(value["composite"]), self.image_size)

    def preview(self, value: EditorValue | None) -> np.ndarray:
        """The label the model will read, in colour, upscaled to the canvas's size for display."""
        return canvas_image(self.label_of(value), self.image_size)

    def generate(
        self,
        value: EditorValue | None,
        temperature: float,
        count: int,
        seed: int,
        guidance: float | None = None,
        denoise: bool = False,
    ) -> Generated:
        """Photos for the painted label, with captions, and the scene's zip in `outputs`;
        `guidance` and `denoise` apply where the run was trained for them (`self.options`)."""
        settings = SamplingSettings(
            float(temperature), int(count), int(seed),
            guidance=None if guidance is None or not self.options.guidance else float(guidance),
            denoise_sigma=self.options.denoise_sigma if denoise else None,
        )  # fmt: skip
        label_ids = self.label_of(value)
        photos = sample_photos(self.model, label_ids, settings)
        stem = frame_stem(label_ids, settings)
        folder = Path(tempfile.mkdtemp(dir=self.outputs))
        zip_path = write_scene_zip(folder / f"{stem}.zip", label_ids, list(photos.images), stem)
        return Generated(photos, photos.captions(), zip_path)

    def load_content(
        self, photo_path: str | None, label_path: str | None
    ) -> tuple[TransferSource, EditorValue, str]:
        """The content tab's uploads at the model's size, a canvas of the label, and a note."""
        if not self.has_likelihood:
            raise UserInputError(
                "content transfer needs a flow; this model (pix2pix) has no encoder"
            )
        if photo_path is None or label_path is None:
            raise UserInputError("upload both a photo and its label")
        photo = read_uploaded_photo(photo_path)
        label_ids = read_uploaded_label(label_path, "the photo's label")
        if photo.shape[:2] != label_ids.shape:
            raise UserInputError(
                f"the photo is {photo.shape[0]}x{photo.shape[1]} but its label is "
                f"{label_ids.shape[0]}x{label_ids.shape[1]}"
            )
        fitted = fit_to_model(label_ids, self.image_size, "the upload")
        source = TransferSource(resize_photo(photo, self.image_size), fitted.label_ids)
        return source, editor_value(fitted.label_ids, self.image_size), fitted.note

    def transfer(
        self, source: TransferSource | None, value: EditorValue | None, scale: float
    ) -> np.ndarray:
        """The uploaded photo's content under the painted structure `(H, W, 3)` uint8."""
        if source is None:
            raise UserInputError("upload a photo and its label first")
        return transfer_content(
            self.model, source.photo, source.label_ids, self.label_of(value), float(scale)
        )
