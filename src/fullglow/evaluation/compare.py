"""Table 1 across models: every run scored with the same data, segmenter, seed and rounds.

A run's stored `RUN/eval/metrics.json` is reused when it was computed from the same weights,
segmenter, data, split, size, seed and number of rounds; if it only lacks the requested
temperature, that temperature is evaluated and added to it. Otherwise the run is evaluated again
and its `RUN/eval/` replaced (with a log line saying why).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fullglow.errors import UserInputError
from fullglow.evaluation.evaluate import (
    EVAL_FOLDER,
    FIGURE_FILE,
    METRICS_FILE,
    EvaluationSettings,
    Segmenter,
    evaluate_model,
    prepare_segmenter,
    read_evaluation,
    write_evaluation,
)
from fullglow.evaluation.figures import model_column, model_title, real_columns
from fullglow.evaluation.report import EvaluationReport, TemperatureResult
from fullglow.evaluation.tables import model_rows, table1
from fullglow.synthesis.sheet import FigureColumn, compose_figure
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training.runs import LoadedRun, load_run

log = logging.getLogger(__name__)


def _temperature_order(result: TemperatureResult) -> float:
    return -1.0 if result.temperature is None else result.temperature


def merge_temperatures(
    report: EvaluationReport, results: Sequence[TemperatureResult]
) -> EvaluationReport:
    """`report` with `results` added (replacing results at the same temperatures), sorted by T."""
    kept = [t for t in report.temperatures if all(_differs(t, r) for r in results)]
    merged = sorted([*kept, *results], key=_temperature_order)
    return dataclasses.replace(report, temperatures=tuple(merged))


def _differs(a: TemperatureResult, b: TemperatureResult) -> bool:
    if a.temperature is None or b.temperature is None:
        return a.temperature is not b.temperature
    return abs(a.temperature - b.temperature) > 1e-9


def mismatch(
    stored: EvaluationReport,
    run: LoadedRun,
    data: Path,
    split: str,
    segmenter: Segmenter,
    settings: EvaluationSettings,
) -> str | None:
    """Why `stored` cannot stand for an evaluation of `run` under these settings (None: it can)."""
    expected = {
        "model weights": (stored.model_fingerprint, run.fingerprint),
        "checkpoint": (stored.checkpoint, run.checkpoint),
        "segmenter weights": (stored.segmenter_fingerprint, segmenter.fingerprint),
        "data": (stored.data, str(data.resolve())),
        "split": (stored.split, split),
        "image size": (stored.image_size, run.image_size),
        "seed": (stored.seed, settings.seed),
        "rounds": (stored.rounds, settings.rounds),
    }
    if run.model.has_likelihood:
        expected["BPD draws"] = (stored.bpd_draws, settings.bpd_draws)
        expected["denoising sigma"] = (stored.denoise_sigma, settings.denoise_sigma)
        expected["guidance"] = (stored.guidance, settings.guidance)
    changed = [f"{name} {old!r} -> {new!r}" for name, (old, new) in expected.items() if old != new]
    return "; ".join(changed) or None


@dataclass(frozen=True)
class Comparison:
    """The reports of the compared runs, the temperature Table 1 shows them at and, when asked
    for, the paper's Figure 2 (`(H, W, 3)` uint8: label, real photo, a sample of each model)."""

    reports: tuple[EvaluationReport, ...]
    temperature: float
    figure: np.ndarray | None = None

    def table(self) -> str:
        """Table 1 as Markdown."""
        return table1(self.reports, self.temperature)


def _report_for(
    run: LoadedRun,
    data: Path,
    split: str,
    segmenter: Segmenter,
    settings: EvaluationSettings,
    temperature: float,
) -> EvaluationReport:
    path = run.path / EVAL_FOLDER / METRICS_FILE
    stored, reason = None, "no stored metrics"
    if path.is_file():
        try:
            stored = read_evaluation(path)
            reason = mismatch(stored, run, data, split, segmenter, settings)
        except UserInputError as err:
            reason = str(err)
    if stored is not None and reason is None and stored.at(temperature) is not None:
        log.info("%s: reusing %s", run.path, path)
        return stored
    dataset = open_dataset_split(data, split, run.image_size)
    one = dataclasses.replace(settings, temperatures=(temperature,))
    figure = None
    if stored is not None and reason is None:
        log.info("%s: adding temperature %s to %s", run.path, temperature, path)
        results = evaluate_model(
            run, dataset, segmenter, dataclasses.replace(one, compute_bpd=False)
        )
        report = merge_temperatures(stored, results.temperatures)
        # The same weights: the samples figure `evaluate` drew stays valid.
        if (path.parent / FIGURE_FILE).is_file():
            figure = path.parent / FIGURE_FILE
    else:
        if path.is_file():
            log.warning("%s: evaluating again and replacing %s (%s)", run.path, path, reason)
        report = evaluate_model(run, dataset, segmenter, one)
    write_evaluation(report, run.path / EVAL_FOLDER, temperature, figure)
    return report


def compare_runs(
    run_dirs: Sequence[str | Path],
    data: str | Path,
    segmenter_path: str | Path,
    split: str = "val",
    temperature: float = 1.0,
    settings: EvaluationSettings | None = None,
    device: torch.device | str = "cpu",
    checkpoint: str = "best",
    figure_rows: int = 0,
    figure_temperature: float = 0.7,
) -> Comparison:
    """Evaluate (or reuse the stored evaluation of) each run and gather them for Table 1; with
    `figure_rows > 0`, also draw the paper's Figure 2 of the first `figure_rows` labels (the
    flows at `figure_temperature`, the first batch exactly as evaluation samples it).

    Raises:
        UserInputError: no runs, the same run twice, `figure_rows` above the batch size or the
            split's size, or any error of `evaluate_model`.
    """
    if not run_dirs:
        raise UserInputError("give at least one run to compare")
    settings = settings or EvaluationSettings()
    if figure_rows and not (math.isfinite(figure_temperature) and figure_temperature >= 0):
        raise UserInputError(f"the figure's temperature must be >= 0, got {figure_temperature}")
    if figure_rows > settings.batch_size:
        raise UserInputError(
            f"a figure of {figure_rows} rows needs a batch size of at least {figure_rows}, "
            f"got {settings.batch_size}"
        )
    resolved = [Path(r).resolve() for r in run_dirs]
    if len(set(resolved)) != len(resolved):
        raise UserInputError(f"a run is listed twice: {[str(r) for r in run_dirs]}")
    data = Path(data)
    segmenters: dict[tuple[int, int], Segmenter] = {}
    reports = []
    real: list[FigureColumn] = []
    samples: list[FigureColumn] = []
    flow_temperatures: list[float | None] = []
    for run_dir in run_dirs:
        run = load_run(run_dir, checkpoint, device)
        if run.image_size not in segmenters:
            segmenters[run.image_size] = prepare_segmenter(segmenter_path, run.image_size, device)
        segmenter = segmenters[run.image_size]
        reports.append(_report_for(run, data, split, segmenter, settings, temperature))
        if figure_rows:
            dataset = open_dataset_split(data, split, run.image_size)
            if not real:
                real = real_columns(dataset, figure_rows)
            samples.append(
                model_column(
                    run,
                    dataset,
                    figure_rows,
                    figure_temperature,
                    settings.batch_size,
                    settings.seed,
                    denoise_sigma=settings.denoise_sigma,
                    guidance=settings.guidance,
                )  # fmt: skip
            )
            flow_temperatures.append(figure_temperature if run.model.has_likelihood else None)
        del run
    figure = None
    if figure_rows:
        # Retitle the model columns with Table 1's labels, which tell two runs of a model apart.
        labels = [row.label for row in model_rows(reports, temperature)]
        models = [
            dataclasses.replace(column, title=model_title(label, t))
            for column, label, t in zip(samples, labels, flow_temperatures, strict=True)
        ]
        figure = compose_figure([*real, *models])
    return Comparison(tuple(reports), temperature, figure)
