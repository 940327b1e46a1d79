"""Line charts as inline SVG, so that the report needs no plotting library.

A chart maps data `(x, y)` to pixels with `px = left + (x - x0) / (x1 - x0) * plot_width` and
`py = top + (y1 - y) / (y1 - y0) * plot_height`, where `[x0, x1] x [y0, y1]` is the data range
widened to "nice" tick values (1, 2 or 5 times a power of ten).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


@dataclass(frozen=True)
class Series:
    """One line: `points` are `(x, y)` pairs in drawing order; non-finite ys are left out."""

    name: str
    points: tuple[tuple[float, float], ...]
    colour: str = PALETTE[0]
    dashed: bool = False
    markers: bool = True


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values covering `[low, high]`: the smallest step 1, 2 or 5 x 10^k that needs at
    most `count + 1` ticks."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"tick range must be finite, got [{low}, {high}]")
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    magnitude = 10 ** math.floor(math.log10((high - low) / count))
    for step in (m * magnitude for m in (1, 2, 5, 10, 20)):
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first <= count:
            break
    return [round(k * step, 12) for k in range(first, last + 1)]


def _label(value: float) -> str:
    return f"{value:.6g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 520,
    height: int = 320,
    y_range: tuple[float, float] | None = None,
) -> str:
    """An `<svg>` element with axes, grid lines, one polyline per series and a legend.

    `y_range` fixes the vertical axis (e.g. `(0, 100)` for percentages); by default it spans the
    data. A chart with no finite point says so instead of drawing axes.
    """
    finite = [(x, y) for s in series for x, y in s.points if math.isfinite(x) and math.isfinite(y)]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">'
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="14" '
        f'font-weight="bold">{escape(title)}</text>'
    )
    if not finite:
        return (
            head + f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle">'
            "no data</text></svg>"
        )
    xs = nice_ticks(min(x for x, _ in finite), max(x for x, _ in finite))
    ys = nice_ticks(*(y_range or (min(y for _, y in finite), max(y for _, y in finite))))
    left, right, top, bottom = 58, 14, 28, 62
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - xs[0]) / (xs[-1] - xs[0]) * plot_w

    def py(y: float) -> float:
        return top + (ys[-1] - y) / (ys[-1] - ys[0]) * plot_h

    parts = [head]
    for y in ys:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        )
    for x in xs:
        parts.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + plot_h}" '
            'stroke="#eee"/>'
            f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_label(x)}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#444"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 34}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for s in series:
        points = [(x, y) for x, y in s.points if math.isfinite(x) and math.isfinite(y)]
        if not points:
            continue
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>'
        )
        if s.markers:
            parts.extend(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{s.colour}"/>'
                for x, y in points
            )
    legend_y = height - 10
    cursor = left
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<line x1="{cursor}" x2="{cursor + 22}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{s.colour}" stroke-width="2"{dash}/>'
            f'<text x="{cursor + 26}" y="{legend_y}">{escape(s.name)}</text>'
        )
        cursor += 34 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
