"""One synthetic frame: a street layout rendered under a style, then through a camera's optics."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFilter

from fullglow.data.synthetic.background import render_background
from fullglow.data.synthetic.camera import sample_camera
from fullglow.data.synthetic.canvas import Canvas, grain
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


def _blur(image: Image.Image, sigma: float) -> Image.Image:
    """Gaussian blur of standard deviation `sigma` pixels; below 1 pixel a 3x3 kernel holds all
    of it, which is twice as fast as Pillow's general Gaussian blur."""
    if sigma < 0.15:
        return image
    if sigma >= 1.0:
        return image.filter(ImageFilter.GaussianBlur(sigma))
    side = float(np.exp(-0.5 / sigma**2))
    weights = np.outer([side, 1.0, side], [side, 1.0, side])
    return image.filter(ImageFilter.Kernel((3, 3), weights.ravel().tolist(), float(weights.sum())))


def _develop(photo: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Light colour, vignetting, lens blur and sensor noise: float `(H, W, 3)` -> uint8."""
    height, width = photo.shape[:2]
    v = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / height
    u = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / width
    vignette = 1.0 - 2.0 * style.vignette * (u[None, :] ** 2 + v[:, None] ** 2)
    image = photo * (vignette[..., None] * (255.0 * style.light))
    exposed = Image.fromarray(np.clip(image, 0.0, 255.0).astype(np.uint8))
    exposed = _blur(exposed, style.blur_radius * height / 256.0)
    sigma = 255.0 * style.noise_sigma  # luminance noise, and a third as much in colour
    noise = grain(rng, (height, width, 3)) * (sigma / 3)
    noise += grain(rng, (height, width, 1)) * sigma
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
    layout = sample_layout(layout_rng, camera)
    style_rng = np.random.default_rng(style_seed)
    style = sample_style(style_rng)
    canvas = Canvas(*size)
    render_background(canvas, camera, layout.street, style, style_rng)
    draw_things(canvas, camera, layout, style, style_rng)
    photo = _develop(canvas.photo, style, style_rng)
    return SyntheticFrame(photo, canvas.label_ids(), canvas.instance.astype(np.uint16))
