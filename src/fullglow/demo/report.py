"""`OUT/report.html`: one self-contained page (images as base64 PNG data URIs, plots as inline SVG).

The page is rebuilt from what is on disk (`demo.json`, `eval/`, `runs/*/metrics.jsonl`), so it
can be written at any point: sections whose stage has not finished say so.
"""

from __future__ import annotations

import base64
import datetime
from html import escape
from pathlib import Path

from fullglow.demo.config import DemoConfig
from fullglow.demo.folder import MARKER_FILE, StageRecord, read_marker
from fullglow.demo.results import TRANSFER_IMAGES, DemoMetrics, read_demo_metrics
from fullglow.demo.svg import PALETTE, Series, line_chart
from fullglow.errors import UserInputError
from fullglow.evaluation.report import METRICS, EvaluationReport, TemperatureResult
from fullglow.evaluation.tables import bpd_cell, percent, temperature_cell
from fullglow.files import atomic_write_text
from fullglow.training.metrics_log import read_training_log

REPORT_FILE = "report.html"

STYLE = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1180px; color: #222; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 28px; }
.muted { color: #666; } .pending { color: #a60; font-style: italic; }
.headline { display: flex; gap: 16px; flex-wrap: wrap; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 10px 16px; min-width: 180px; }
.card .value { font-size: 28px; font-weight: bold; } .card.good .value { color: #1a7f37; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.grid td, .grid th { text-align: center; border: none; padding: 3px; font-size: 13px; }
.grid img, .transfer img { width: 150px; image-rendering: pixelated; display: block; }
table.stages td:last-child { text-align: left; }
.transfer td { text-align: center; border: none; font-size: 13px; }
.plots { display: flex; gap: 16px; flex-wrap: wrap; }
"""

PENDING = (
    '<p class="pending">Not done yet: run the same <code>fullglow demo</code> command again to '
    "finish (finished stages are kept).</p>"
)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _img(path: Path, alt: str) -> str:
    if not path.is_file():
        return f'<span class="pending">missing {escape(path.name)}</span>'
    return f'<img src="{_data_uri(path)}" alt="{escape(alt)}">'


def _table(header: list[str], rows: list[list[str]], css_class: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><tr>{head}</tr>{body}</table>'


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _summary(config: DemoConfig, metrics: DemoMetrics | None, stages: list[StageRecord]) -> str:
    parts = ["<h2>Summary</h2>"]
    if metrics is None:
        parts.append(PENDING)
    else:
        head = metrics.headline()
        fullglow, untrained = metrics.fullglow, metrics.untrained
        name = metrics.trained[0].entry.title
        good = " good" if head.gain > 0 else ""
        cards = [
            (f"trained {name}, mIoU at T = {head.temperature}", _pct(head.trained_miou), good),
            (f"untrained {name}, mIoU at T = {head.temperature}", _pct(head.untrained_miou), ""),
            ("real photos (ceiling), mIoU", _pct(head.ground_truth_miou), ""),
            (
                "conditional BPD, trained / untrained",
                f"{bpd_cell(fullglow.bpd)} / {bpd_cell(untrained.bpd)}",
                "",
            ),
        ]
        parts.append(
            '<div class="headline">'
            + "".join(
                f'<div class="card{cls}"><div class="muted">{escape(label)}</div>'
                f'<div class="value">{escape(value)}</div></div>'
                for label, value, cls in cards
            )
            + "</div>"
        )
        verdict = "above" if head.gain > 0 else "NOT above"
        parts.append(
            f"<p>The evaluator (a segmentation network trained on the real photos) recognises the "
            f"classes of the label in Full-Glow's samples with mean IoU "
            f"<b>{_pct(head.trained_miou)}</b>, {verdict} the <b>{_pct(head.untrained_miou)}</b> "
            f"of the same model before training (step 0, data-initialised, same seed), on "
            f"{fullglow.n_images} val labels at {fullglow.image_size[0]}x{fullglow.image_size[1]}."
            "</p>"
        )
    rows = [
        [s.name, f"{s.seconds:.0f} s", "done" if s.done else "not finished", s.note] for s in stages
    ]
    total = sum(s.seconds for s in stages)
    rows.append(["total", f"{total:.0f} s ({total / 60:.1f} min)", "", ""])
    parts.append("<h3>Stages</h3>" + _table(["stage", "time", "state", "note"], rows, "stages"))
    return "".join(parts)


def _grid(eval_dir: Path, metrics: DemoMetrics | None) -> str:
    parts = ["<h2>Samples</h2>"]
    if metrics is None:
        return parts[0] + PENDING
    parts.append(
        '<p class="muted">Each row: a val label the models never trained on, its real photo, and '
        "samples synthesized from the label alone. Black areas are where a sample's decoding "
        "diverged (NaN or infinity; counted in the metrics' sweep table).</p>"
    )
    columns = metrics.grid_columns
    # Up to 7 columns at 160 px; more shrink to fit a 1180 px page.
    width = min(160, 1180 // len(columns) - 8)
    head = "".join(f"<th>{escape(c.title)}</th>" for c in columns)
    rows = [
        "<tr>"
        + "".join(
            f"<td>{_img(eval_dir / 'grid' / f'{c.key}_{row}.png', c.title)}</td>" for c in columns
        )
        + "</tr>"
        for row in range(metrics.grid_rows)
    ]
    style = f"<style>.grid img {{ width: {width}px; }}</style>"
    parts.append(f'{style}<table class="grid"><tr>{head}</tr>{"".join(rows)}</table>')
    return "".join(parts)


def _swept_reports(metrics: DemoMetrics) -> list[tuple[str, EvaluationReport]]:
    """The reports of the temperature sweep, labelled: the trained Full-Glow ("trained"), or
    each of several by its title, then the untrained one ("untrained")."""
    swept = metrics.swept
    labelled = [(r.entry.title if len(swept) > 1 else "trained", r.report) for r in swept]
    return [*labelled, ("untrained", metrics.untrained)]


def _sweep(metrics: DemoMetrics | None) -> str:
    if metrics is None:
        return "<h2>Temperature sweep</h2>" + PENDING
    t_values = [t.temperature for t in metrics.fullglow.temperatures]
    span = (min(t_values), max(t_values))
    reports = _swept_reports(metrics)
    charts = []
    for metric, label in (("mean_iou", "mean IoU (%)"), ("pixel_accuracy", "pixel accuracy (%)")):
        series = []
        for index, (name, report) in enumerate(reports):
            points = tuple((t.temperature, 100 * t.stat(metric).mean) for t in report.temperatures)
            dashed = report is metrics.untrained
            series.append(Series(name, points, PALETTE[index], dashed))
        ceiling = 100 * getattr(metrics.ground_truth, metric)
        series.append(
            Series("real photos", ((span[0], ceiling), (span[1], ceiling)), "#777", True, False)
        )
        charts.append(
            line_chart(
                series,
                title=f"Full-Glow: {label} vs temperature",
                x_label="temperature T",
                y_label=label,
                y_range=(0.0, 100.0),
            )
        )
    return "<h2>Temperature sweep</h2>" + f'<div class="plots">{"".join(charts)}</div>'


def _transfer(eval_dir: Path, metrics: DemoMetrics | None) -> str:
    head = "<h2>Content transfer</h2>"
    if metrics is None or not metrics.transfer:
        return head + PENDING
    row = "".join(
        f"<td>{_img(eval_dir / 'transfer' / f'{c.key}.png', c.title)}{escape(c.title)}</td>"
        for c in TRANSFER_IMAGES
    )
    return (
        head
        + '<p class="muted">Paper, section 5.4: <i>z = f(x<sub>b</sub> | x<sub>a</sub>)</i> of a '
        "real photo, then decoded with a new structure. Values outside [0, 1] are clipped and "
        "non-finite ones shown black.</p>" + f'<table class="transfer"><tr>{row}</tr></table>'
    )


def _loss_curves(root: Path, config: DemoConfig) -> str:
    series = []
    for index, entry in enumerate(config.models):
        records = read_training_log(root / "runs" / entry.key)
        points = tuple(
            (float(r["step"]), float(r["loss"]))
            for r in records
            if isinstance(r.get("loss"), int | float) and "skipped" not in r
        )
        if points and entry.model != "pix2pix":
            markers = len(points) == 1  # a lone point has no line to show
            series.append(Series(entry.title, points, PALETTE[index], markers=markers))
    head = "<h2>Training loss</h2>"
    if not series:
        return head + PENDING
    chart = line_chart(
        series,
        title="training loss (bits per dimension, eq. 11)",
        x_label="step",
        y_label="loss (bpd)",
        width=720,
    )
    return head + chart


def _row(label: str, report: EvaluationReport, temperature: float) -> list[str]:
    result = report.at(temperature)
    cells = [percent(result.stat(m)) for m in METRICS] if result else ["—"] * 3
    t = temperature_cell(result.temperature if result else temperature)
    return [label, t, bpd_cell(report.bpd), *cells]


def _tables(metrics: DemoMetrics | None) -> str:
    head = "<h2>Metrics</h2>"
    if metrics is None:
        return head + PENDING
    t = metrics.headline_temperature
    header = ["Model", "T", "Cond. BPD", "Mean pixel acc.", "Mean class acc.", "Mean class IoU"]
    rows = [_row(r.entry.title, r.report, t) for r in metrics.trained]
    rows.append(_row(f"{metrics.trained[0].entry.title}, untrained (step 0)", metrics.untrained, t))
    gt = metrics.ground_truth
    rows.append(
        ["Ground-truth (real photos)", "—", "—", *(f"{100 * getattr(gt, m):.2f}" for m in METRICS)]
    )
    reports = _swept_reports(metrics)
    sweep_header = ["T"]
    for name, _ in reports:
        sweep_header += [f"{name} pixel acc.", f"{name} mIoU", f"{name} diverged"]
    sweep = [
        [temperature_cell(result.temperature)]
        + [cell for _, report in reports for cell in _sweep_cells(report, result.temperature)]
        for result in metrics.fullglow.temperatures
    ]
    names = " and ".join(r.entry.title for r in metrics.swept)
    return (
        head
        + f'<p class="muted">Scores in percent (one sampling round, so ± 0.00), models at T = {t}.</p>'
        + _table(header, rows)
        + f"<h3>{escape(names)} at every temperature</h3>"
        + '<p class="muted">"diverged": samples whose decoding overflowed to NaN or infinity '
        + "(scored with those values as 0).</p>"
        + _table(sweep_header, sweep)
    )


def _sweep_cells(report: EvaluationReport, temperature: float) -> list[str]:
    """Pixel accuracy, mean IoU and diverged samples of `report` at `temperature`."""
    result = report.at(temperature)
    if result is None:
        return ["—"] * 3
    diverged = _diverged_cell(result, report.n_images)
    return [percent(result.pixel_accuracy), percent(result.mean_iou), diverged]


def _diverged_cell(result: TemperatureResult, n_images: int) -> str:
    """`3 / 32`: diverged samples of all rounds out of all samples, "—" if unknown."""
    if result.diverged is None:
        return "—"
    return f"{result.diverged} / {n_images * len(result.rounds)}"


def render_report(root: Path) -> str:
    """The report's HTML for the demo folder `root`.

    Raises:
        UserInputError: `root` is not a demo folder (no `demo.json`).
    """
    marker = root / MARKER_FILE
    if not marker.is_file():
        raise UserInputError(f"{root} is not a demo folder (no {MARKER_FILE})")
    config, stages = read_marker(marker)
    metrics = read_demo_metrics(root / "eval")
    height, width = config.image_size
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    complete = metrics is not None and all(s.done for s in stages.values())
    state = "" if complete else ' <span class="pending">(partial: not every stage is done)</span>'
    intro = (
        f"<h1>Full-Glow demo{state}</h1>"
        f'<p class="muted">{config.n_train} generated street scenes at {height}x{width}, preset '
        f'"{escape(config.preset)}", models: {escape(", ".join(m.title for m in config.models))}; '
        f"written {when}.</p>"
    )
    body = "".join(
        [
            intro,
            _summary(config, metrics, list(stages.values())),
            _grid(root / "eval", metrics),
            _sweep(metrics),
            _transfer(root / "eval", metrics),
            _loss_curves(root, config),
            _tables(metrics),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Full-Glow demo report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def write_report(root: Path | str) -> Path:
    """Write `root/report.html` atomically from what the demo folder holds; return its path."""
    root = Path(root)
    path = root / REPORT_FILE
    atomic_write_text(path, render_report(root))
    return path
