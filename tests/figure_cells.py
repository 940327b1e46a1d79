"""Reading one image back out of a figure drawn by `fullglow.synthesis.sheet.compose_figure`."""

from __future__ import annotations

import numpy as np

from fullglow.synthesis.sheet import GAP


def figure_cell(
    figure: np.ndarray, size: tuple[int, int], rows: int, row: int, column: int, zoom: int = 4
) -> np.ndarray:
    """The image at (`row`, `column`) of a figure of `rows` rows whose `size` images were enlarged
    `zoom` times, shrunk back to `size`."""
    cell_h, cell_w = zoom * size[0], zoom * size[1]
    top = figure.shape[0] - rows * (cell_h + GAP) + row * (cell_h + GAP)
    left = GAP + column * (cell_w + GAP)
    return figure[top : top + cell_h : zoom, left : left + cell_w : zoom]
