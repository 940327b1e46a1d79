"""A sheet of image columns, each under its title: the layout of every figure fullglow draws.

`compose_figure` lays columns of images `(N, 3, H, W)` out on one white sheet, resized with nearest
neighbour to one cell size (enlarged by a whole factor when narrow, so pixels stay visible).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from torch.nn import functional as F

from fullglow.synthesis.images import to_uint8

MIN_CELL_WIDTH = 128
"""Images narrower than this are enlarged by a whole factor (nearest neighbour) to be seen."""

GAP = 4
TITLE_FONT_SIZE = 13


@dataclass(frozen=True)
class FigureColumn:
    """One column of a figure: its title and images `(rows, 3, H, W)` in [0, 1]."""

    title: str
    images: Tensor


def _cell_size(columns: Sequence[FigureColumn]) -> tuple[int, int]:
    """`(H, W)` of every cell: the largest images' size, enlarged to `MIN_CELL_WIDTH` if narrow."""
    height = max(c.images.shape[2] for c in columns)
    width = max(c.images.shape[3] for c in columns)
    factor = max(1, math.ceil(MIN_CELL_WIDTH / width))
    return height * factor, width * factor


def _title_lines(title: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """`title` wrapped into lines no wider than `width` pixels where its words allow."""
    for chars in range(max(len(title), 1), 0, -1):
        lines = textwrap.wrap(title, chars) or [""]
        if all(font.getlength(line) <= width for line in lines):
            return lines
    return textwrap.wrap(title, 1)


def compose_figure(columns: Sequence[FigureColumn]) -> np.ndarray:
    """The columns side by side under their titles on a white sheet: `(H, W, 3)` uint8.

    Every image is resized (nearest neighbour, so pixels stay visible) to the largest images'
    size, enlarged by a whole factor when narrower than `MIN_CELL_WIDTH`.

    Raises:
        ValueError: no columns, or columns with different numbers of rows.
    """
    if not columns:
        raise ValueError("a figure needs at least one column")
    rows = {c.images.shape[0] for c in columns}
    if len(rows) != 1:
        raise ValueError(f"every column needs the same number of rows, got {sorted(rows)}")
    n_rows = rows.pop()
    cell_h, cell_w = _cell_size(columns)
    font = ImageFont.load_default(size=TITLE_FONT_SIZE)
    titles = [_title_lines(c.title, font, cell_w) for c in columns]
    line_height = TITLE_FONT_SIZE + 3
    header = GAP + line_height * max(len(t) for t in titles)
    sheet = Image.new(
        "RGB",
        (GAP + len(columns) * (cell_w + GAP), header + GAP + n_rows * (cell_h + GAP)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for index, (column, lines) in enumerate(zip(columns, titles, strict=True)):
        left = GAP + index * (cell_w + GAP)
        for number, line in enumerate(lines):
            offset = (cell_w - font.getlength(line)) / 2
            draw.text((left + offset, GAP + number * line_height), line, fill="black", font=font)
        images = F.interpolate(column.images.float().cpu(), size=(cell_h, cell_w), mode="nearest")
        for row, image in enumerate(to_uint8(images)):
            sheet.paste(Image.fromarray(image), (left, header + GAP + row * (cell_h + GAP)))
    return np.asarray(sheet)
