"""Markdown tables shaped like the paper's Table 1 (models) and Table 2 (temperatures).

Scores print as percentages `mean ± std` over rounds with two decimals, BPD with three, and "—"
where a value does not exist (pix2pix's BPD and temperature).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fullglow.errors import UserInputError
from fullglow.evaluation.report import (
    METRICS,
    EvaluationReport,
    MeanStd,
    RoundScores,
    TemperatureResult,
)
from fullglow.training.runs import display_name

DASH = "—"


def percent(stat: MeanStd) -> str:
    """`73.50 ± 0.13` for `MeanStd(0.735, 0.0013)`."""
    return f"{100 * stat.mean:.2f} ± {100 * stat.std:.2f}"


def bpd_cell(bpd: float | None) -> str:
    return DASH if bpd is None else f"{bpd:.3f}"


def temperature_cell(temperature: float | None) -> str:
    """`0.8` as `0.8`, `1` as `1.0`, `0.85` as `0.85`; "—" for None."""
    if temperature is None:
        return DASH
    return f"{temperature:.1f}" if round(temperature, 1) == temperature else f"{temperature:g}"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with the first column left-aligned and the others right-aligned."""
    align = [":--"] + ["--:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def ceiling_cells(scores: RoundScores) -> list[str]:
    """The three scores of the real photos in percent, two decimals."""
    return [f"{100 * getattr(scores, name):.2f}" for name in METRICS]


@dataclass(frozen=True)
class ModelRow:
    """One line of Table 1: a report scored at one temperature, under a display label."""

    label: str
    report: EvaluationReport
    temperature: float | None


def model_rows(reports: Sequence[EvaluationReport], temperature: float) -> list[ModelRow]:
    """Table 1 rows: each report at `temperature` (pix2pix at its one row), labelled with the
    paper's model name, plus the run folder where two rows would share a name.

    Raises:
        UserInputError: a flow's report has no result at `temperature`.
    """
    names = [
        display_name(r.model)
        if r.sampling_note is None
        else f"{display_name(r.model)}, {r.sampling_note}"
        for r in reports
    ]
    rows = []
    for name, report in zip(names, reports, strict=True):
        result = report.at(temperature)
        if result is None:
            raise UserInputError(
                f"{report.run}: no evaluation at temperature {temperature} (evaluated: "
                f"{[t.temperature for t in report.temperatures]})"
            )
        label = name if names.count(name) == 1 else f"{name} ({Path(report.run).name})"
        rows.append(ModelRow(label, report, result.temperature))
    return rows


def _diverged_entry(what: str, result: TemperatureResult, n_images: int) -> str | None:
    """`"what: 10 of 480"` when some of `result`'s samples diverged, else None."""
    if not result.diverged:
        return None
    return f"{what}: {result.diverged} of {n_images * len(result.rounds)}"


def _with_divergence_note(table: str, entries: Sequence[str | None]) -> str:
    """`table`, followed by a note naming the rows whose scores include diverged samples."""
    found = [e for e in entries if e is not None]
    if not found:
        return table
    return (
        f"{table}\nSamples that diverged (NaN or infinite values; scored as written, NaN as 0): "
        f"{'; '.join(found)}.\n"
    )


def table1(reports: Sequence[EvaluationReport], temperature: float = 1.0) -> str:
    """Table 1: one row per model at `temperature`, then the ground-truth ceiling.

    Runs evaluated at different image sizes have different ceilings: one "Ground-truth" row per
    size, labelled with the size when there is more than one. Rows whose samples partly
    diverged are named in a note below the table, and a ceiling near chance gets its warning.
    """
    header = ["Model", "Cond. BPD", "Mean pixel acc.", "Mean class acc.", "Mean class IoU"]
    lines = []
    diverged = []
    for row in model_rows(reports, temperature):
        result = row.report.at(row.temperature)
        lines.append(
            [row.label, bpd_cell(row.report.bpd)] + [percent(result.stat(name)) for name in METRICS]
        )
        diverged.append(_diverged_entry(row.label, result, row.report.n_images))
    ceilings = {r.image_size: r.ground_truth for r in reports}
    warnings = []
    for size, scores in ceilings.items():
        label = "Ground-truth" if len(ceilings) == 1 else f"Ground-truth ({size[0]}x{size[1]})"
        lines.append([label, DASH, *ceiling_cells(scores)])
        if scores.warning is not None:
            warnings.append(f"\n**Warning** ({label}): {scores.warning}.\n")
    return _with_divergence_note(markdown(header, lines), diverged) + "".join(warnings)


def shown_temperature(report: EvaluationReport, preferred: float = 1.0) -> float:
    """The temperature a one-model Table 1 shows: `preferred` when evaluated (or for pix2pix),
    else the last temperature evaluated."""
    if report.at(preferred) is not None:
        return preferred
    return report.temperatures[-1].temperature


def table2(report: EvaluationReport) -> str:
    """Table 2: one row per temperature of one model, mean ± std over rounds (with the note of
    `table1` when samples diverged)."""
    header = ["T", "Pixel acc.", "Class acc.", "Class IoU"]
    lines = [
        [temperature_cell(t.temperature)] + [percent(t.stat(name)) for name in METRICS]
        for t in report.temperatures
    ]
    diverged = [
        _diverged_entry(f"T = {temperature_cell(t.temperature)}", t, report.n_images)
        for t in report.temperatures
    ]
    return _with_divergence_note(markdown(header, lines), diverged)


def describe(report: EvaluationReport) -> str:
    """A heading line for a report's tables: model, run, split, size, rounds and segmenter."""
    height, width = report.image_size
    bpd = "" if report.bpd is None or math.isnan(report.bpd) else f", cond. BPD {report.bpd:.3f}"
    return (
        f"{display_name(report.model)} ({report.run}, checkpoint {report.checkpoint}): "
        f"{report.n_images} {report.split} images at {height}x{width}, {report.rounds} round(s), "
        f"segmenter {report.segmenter}{bpd}"
        + ("" if report.sampling_note is None else f"; samples {report.sampling_note}")
    )
