"""One synthetic frame: a street layout rendered under a style, then through a camera's optics."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFilter

from fullglow.data.synthetic.background import render_background
from fullglow.data.synthetic.camera import sample_camera
from fullglow.data.synthetic.canvas import Canvas
from fullglow.data.synthetic.layout import sample_layout
from fullglow.data.synthetic.objects import draw_things
from fullglow.data.synthetic.style import Style, sample_style


class SyntheticFrame(NamedTuple):
    """A generated frame in Cityscapes' encodings.

    Attributes:
        photo: `(H, W, 3)` uint8 RGB.
        label_ids: `(H, W)` uint8 Cityscapes label ids.
        instance_ids: `(H, W)` uint16, `id * 1000 + k` on things, the label id elsewhere.
    """

    photo: np.ndarray
    label_ids: np.ndarray
    instance_ids: np.ndarray


def _develop(photo: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Light colour, vignetting, lens blur and sensor noise: float `(H, W, 3)` -> uint8."""
    height, width = photo.shape[:2]
    v = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / height
    u = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / width
    vignette = 1.0 - 2.0 * style.vignette * (u[None, :] ** 2 + v[:, None] ** 2)
    image = photo * (vignette[..., None] * (255.0 * style.light))
    exposed = Image.fromarray(np.clip(image, 0.0, 255.0).astype(np.uint8))
    radius = style.blur_radius * height / 256.0
    if radius >= 0.15:
        exposed = exposed.filter(ImageFilter.GaussianBlur(radius))
    sigma = 255.0 * style.noise_sigma  # luminance noise, and a third as much in colour
    noise = rng.standard_normal((height, width, 3), dtype=np.float32) * (sigma / 3)
    noise += rng.standard_normal((height, width, 1), dtype=np.float32) * sigma
    noise += np.asarray(exposed, dtype=np.float32) + 0.5
    return np.clip(noise, 0.0, 255.0, out=noise).astype(np.uint8)


def render_frame(
    size: tuple[int, int], layout_seed: int | list[int], style_seed: int | list[int]
) -> SyntheticFrame:
    """Render one street scene at `size = (H, W)`.

    The layout (camera, street, things: everything the label map depends on) is drawn from
    `layout_seed` and the appearance (colours, light, textures, noise) from `style_seed`: the same
    `layout_seed` with other `style_seed`s gives the same label map under different photos.
    """
    layout_rng = np.random.default_rng(layout_seed)
    camera = sample_camera(layout_rng, size)
    layout = sample_layout(layout_rng)
    style_rng = np.random.default_rng(style_seed)
    style = sample_style(style_rng)
    canvas = Canvas(*size)
    render_background(canvas, camera, layout.street, style, style_rng)
    draw_things(canvas, camera, layout, style, style_rng)
    photo = _develop(canvas.photo, style, style_rng)
    return SyntheticFrame(photo, canvas.label_ids(), canvas.instance.astype(np.uint16))
