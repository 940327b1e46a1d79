"""The study's results: `results.json`, `table.md` and `report.html` from the scores on disk.

For row `g` with per-seed val mIoUs `m_g,s` and R alone's `m_R,s` (same seeds), the gain is the
mean of the paired differences `d_s = m_g,s - m_R,s`, its spread their sample standard deviation;
a gain is called clear when it exceeds twice its spread. The oracle's share is
`gain_g / gain_oracle` (undefined when the oracle gains nothing).
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from fullglow.data.labels import TRAIN_LABELS
from fullglow.demo.svg import PALETTE, nice_ticks
from fullglow.files import atomic_write_text
from fullglow.synthesis.augment import read_scores

RESULTS_FILE = "results.json"
TABLE_FILE = "table.md"
REPORT_FILE = "report.html"


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def _nan_mean_columns(values: list[list[float]]) -> list[float]:
    """Column means over the finite entries; NaN where a column has none."""
    array = np.array(values, dtype=np.float64)
    finite = np.isfinite(array)
    counts = finite.sum(axis=0)
    sums = np.where(finite, array, 0.0).sum(axis=0)
    return [float(s / c) if c else float("nan") for s, c in zip(sums, counts, strict=True)]


def _row_scores(root: Path, row: str, seeds: int) -> list[dict]:
    paths = [root / "scores" / f"{row}-s{s}.json" for s in range(seeds)]
    return [json.loads(p.read_text()) for p in paths if p.is_file()]


def summarize(study: Any) -> dict[str, Any]:
    """The results of every row whose segmenters are all trained (see the module docstring)."""
    root, seeds = study.root, study.config.seeds
    base = _row_scores(root, "real", seeds)
    oracle_gain = None
    rows = []
    for row, extra in study.rows():
        scores = _row_scores(root, row, seeds)
        if len(scores) < seeds or len(base) < seeds:
            continue
        mious = [s["mean_iou"] for s in scores]
        mean, sd = _mean_sd(mious)
        gains = [m - b["mean_iou"] for m, b in zip(mious, base, strict=True)]
        gain, gain_sd = _mean_sd(gains)
        if row == "oracle":
            oracle_gain = gain
        per_class = _nan_mean_columns(
            [[np.nan if v is None else v for v in s["per_class_iou"]] for s in scores]
        )
        entry: dict[str, Any] = {
            "row": row, "val_miou": mious, "mean": mean, "sd": sd,
            "gain": None if row == "real" else gain, "gain_sd": None if row == "real" else gain_sd,
            "clear": None if row == "real" or gain_sd is None else bool(abs(gain) > 2 * gain_sd),
            "per_class_iou": [None if math.isnan(v) else float(v) for v in per_class],
            "extra_images": scores[0]["extra_images"],
        }  # fmt: skip
        if extra is not None and row != "oracle":
            lines = read_scores(extra)
            entry["candidates"] = len(lines)
            entry["diverged"] = sum(line.diverged for line in lines)
        rows.append(entry)
    for entry in rows:
        share = None
        if entry["gain"] is not None and oracle_gain:
            share = entry["gain"] / oracle_gain
        entry["oracle_share"] = share
    stages = [{"name": s.name, "seconds": s.seconds, "note": s.note} for s in study.folder.stages()]
    plan = study.plan
    budget = {
        "minutes": plan.minutes, "generator_share": plan.generator_share,
        "generator_minutes": plan.generator_minutes, "warning": plan.warning,
        "trained_here": list(plan.generators), "given": [n for n, _ in study.config.runs],
    }  # fmt: skip
    return {"config": study.config.to_dict(), "budget": budget, "rows": rows, "stages": stages}


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def table_markdown(results: dict[str, Any]) -> str:
    """The headline table: val mIoU (%) mean ± sd over seeds, gain over R alone, oracle share."""
    lines = [
        "| row | synthetic photos | val mIoU % (mean ± sd) | gain (points ± sd) | gain > 2 sd | "
        "share of oracle's gain | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        clear = "n/a" if r["clear"] is None else ("yes" if r["clear"] else "no")
        share = "n/a" if r["oracle_share"] is None else f"{100 * r['oracle_share']:.0f}%"
        diverged = f"{r['diverged']} of {r['candidates']}" if "candidates" in r else "—"
        lines.append(
            f"| {r['row']} | {r['extra_images']} | {_pct(r['mean'])} ± {_pct(r['sd'])} | "
            f"{_pct(r['gain'], True)} ± {_pct(r['gain_sd'])} | {clear} | {share} | {diverged} |"
        )
    lines.append("")
    budget = results["budget"]
    sentences = []
    # Results written before these fields existed had every generator trained here.
    if budget.get("trained_here", True):
        sentences.append(
            f"Generators trained {budget['generator_minutes']:.1f} min each "
            f"({100 * budget['generator_share']:.0f}% of {budget['minutes']:.1f} min)."
            + (f" **WARNING: {budget['warning']}.**" if budget["warning"] else "")
        )
    if budget.get("given"):
        sentences.append(f"Generators trained elsewhere (`--run`): {', '.join(budget['given'])}.")
    lines.append(" ".join(sentences))
    lines.append("")
    lines.append("| stage | seconds | note |")
    lines.append("|---|---|---|")
    lines.extend(f"| {s['name']} | {s['seconds']:.0f} | {s['note']} |" for s in results["stages"])
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[dict[str, Any]], width: int = 640, bar_height: int = 22) -> str:
    """Horizontal bars of val mIoU (%) per row with a whisker of ± one sd over seeds (inline SVG)."""
    if not rows:
        return "<p>no finished row yet</p>"
    left, right, top = 200, 20, 28
    height = top + bar_height * len(rows) + 30
    ticks = nice_ticks(0.0, max(100 * (r["mean"] + (r["sd"] or 0)) for r in rows))
    plot = width - left - right

    def px(value: float) -> float:
        return left + value / ticks[-1] * plot

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12" role="img" aria-label="val mIoU per row">'
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">'
        "val mIoU (%), mean ± sd over seeds</text>"
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" '
            f'y2="{height - 30}" stroke="#ddd"/><text x="{px(tick):.1f}" y="{height - 14}" '
            f'text-anchor="middle">{tick:g}</text>'
        )
    for i, r in enumerate(rows):
        y = top + i * bar_height
        colour = PALETTE[i % len(PALETTE)]
        mean, sd = 100 * r["mean"], 100 * (r["sd"] or 0)
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(r["row"])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{px(mean) - left:.1f}" height="{bar_height - 6}" '
            f'fill="{colour}"/><line x1="{px(mean - sd):.1f}" x2="{px(mean + sd):.1f}" '
            f'y1="{y + 11}" y2="{y + 11}" stroke="#000" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _per_class_table(rows: list[dict[str, Any]]) -> str:
    base = next((r for r in rows if r["row"] == "real"), None)
    if base is None:
        return ""
    head = "".join(f"<th>{escape(r['row'])}</th>" for r in rows if r["row"] != "real")
    body = []
    for k, label in enumerate(TRAIN_LABELS):
        cells = []
        for r in rows:
            if r["row"] == "real":
                continue
            a, b = r["per_class_iou"][k], base["per_class_iou"][k]
            cells.append(
                "<td>—</td>" if a is None or b is None else f"<td>{100 * (a - b):+.1f}</td>"
            )
        b = base["per_class_iou"][k]
        body.append(f"<tr><td>{escape(label.name)}</td><td>{_pct(b)}</td>{''.join(cells)}</tr>")
    return (
        "<h2>Per-class IoU change over R alone (points)</h2><table><tr><th>class</th>"
        f"<th>R alone IoU %</th>{head}</tr>{''.join(body)}</table>"
    )


def _grid(study: Any) -> str:
    """Kept and rejected candidates of the first labels of U, per generator and rule."""
    parts = ["<h2>Kept (green) and rejected synthetic photos</h2>"]
    for row, extra in study.rows()[2:]:
        lines = read_scores(extra) if extra is not None else []
        if not lines:
            continue
        parts.append(f"<h3>{escape(row)}</h3><table>")
        for index in sorted({line.index for line in lines})[: study.config.n_grid]:
            mine = [line for line in lines if line.index == index]
            colour = mine[0].label.replace("_gtFine_labelIds.png", "_gtFine_color.png")
            label_src = (study.root / "split" / "pool_labels" / colour).relative_to(study.root)
            cells = [f'<td><img src="{label_src}" title="label"></td>']
            for line in mine:
                if line.file is None:
                    cells.append("<td>diverged</td>")
                    continue
                src = (extra / line.file).relative_to(study.root)
                border = "#2ca02c" if line.kept else "#d62728"
                bpd = "" if line.bits_per_dim is None else f"{line.bits_per_dim:.2f} bpd "
                agree = "" if line.agreement is None else f"{100 * line.agreement:.0f}% agr."
                cells.append(
                    f'<td><img src="{src}" style="border:3px solid {border}"><br>'
                    f"<small>{bpd}{agree}</small></td>"
                )
            parts.append(f"<tr>{''.join(cells)}</tr>")
        parts.append("</table>")
    return "".join(parts)


def write_results(study: Any) -> dict[str, Any]:
    """Write `results.json`, `table.md` and `report.html` into the study folder; return the
    results."""
    results = summarize(study)
    root = study.root
    atomic_write_text(root / RESULTS_FILE, json.dumps(results, indent=1) + "\n")
    table = table_markdown(results)
    atomic_write_text(root / TABLE_FILE, table)
    rows_html = "".join(
        "<tr>"
        + "".join(f"<td>{escape(c.strip())}</td>" for c in line.strip("|").split("|"))
        + "</tr>"
        for line in table.splitlines()[2 : 2 + len(results["rows"])]
    )
    header = table.splitlines()[0].strip("|").split("|")
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>fullglow augmentation study"
        "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd}img{image-rendering:pixelated;width:128px}</style></head>"
        "<body><h1>Does synthetic data make the segmenter better?</h1>"
        "<p>Segmenters trained on the real set R alone, on R plus each generator's synthetic "
        "photos of the pool U's labels, and on R plus U's real photos (the oracle); all scored on "
        "the val split. Gain: paired over seeds against R alone.</p>"
        + bar_chart(results["rows"])
        + "<table><tr>" + "".join(f"<th>{escape(h.strip())}</th>" for h in header) + "</tr>"
        + rows_html + "</table>"
        + (f"<p><b>WARNING: {escape(results['budget']['warning'])}.</b></p>"
           if results["budget"]["warning"] else "")
        + _per_class_table(results["rows"]) + _grid(study) + "</body></html>\n"
    )  # fmt: skip
    atomic_write_text(root / REPORT_FILE, html)
    return results
