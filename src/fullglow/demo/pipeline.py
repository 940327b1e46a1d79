"""`run_demo`: generate data, train the evaluator and the models, evaluate, write the report.

Each stage records itself in `OUT/demo.json` when it completes, so a re-run skips what is done and
resumes a training run from its last checkpoint. Every stage writes its results atomically (a
temporary folder or file renamed into place), so Ctrl-C leaves finished stages usable; the report
is then rebuilt from what is done.

Time: `config.minutes` is the budget of one call. Data, segmenter and evaluation are fixed-size
work; the training stages share what is left of the budget, minus a reserve for the evaluation
(estimated from the segmenter's measured speed), through `TrainConfig.time_budget_minutes`
(each Full-Glow twice the share of each baseline).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.data.image_io import write_png
from fullglow.demo.config import GRID_TEMPERATURES, DemoConfig, DemoModel
from fullglow.demo.folder import DemoFolder, StageRecord
from fullglow.demo.report import write_report
from fullglow.demo.results import (
    METRICS_FILE,
    TRANSFER_IMAGES,
    TRANSFER_SCALE,
    DemoMetrics,
    GridColumn,
    ModelResult,
    read_demo_metrics,
)
from fullglow.evaluation.evaluate import EvaluationSettings, evaluate_model, prepare_segmenter
from fullglow.evaluation.figures import GridSamples, grid_samples
from fullglow.evaluation.report import EvaluationReport
from fullglow.files import atomic_write_text, staged_directory
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import DEFAULT_BATCH_SIZE, DEFAULT_LR, train_segmenter
from fullglow.synthesis.generation import model_device
from fullglow.synthesis.images import to_uint8
from fullglow.synthesis.transfer import content_transfer
from fullglow.threads import torch_threads
from fullglow.training import TrainConfig, initial_model, train
from fullglow.training.distributed import resolve_device
from fullglow.training.runs import LoadedRun, load_run, weights_fingerprint

log = logging.getLogger(__name__)

TRAINING_SHARE = {"fullglow": 2.0}
"""Relative share of the training time per registry model (each Full-Glow of the demo gets 2); 1
for the models not listed (baselines)."""

EVAL_COST_PER_IMAGE = 5.0
"""Seconds of evaluation per sampled image, in units of the segmenter's measured training time
per image (measured ratio 3.4 to 4.3 on 2 cores, busy or not, rounded up): the evaluation reserve
scales with the speed of the machine the demo runs on."""

MIN_EVAL_RESERVE_FRACTION = 0.05
"""The least part of the budget kept for the evaluation and the report."""

MIN_TRAIN_SECONDS = 6.0
"""Each training stage trains at least this long, even when the budget is spent."""

CHECKPOINT_EVERY = 100
EVAL_BATCH_SIZE = 16
LOG_EVERY = 5


@dataclass(frozen=True)
class DemoResult:
    """What `run_demo` produced.

    Attributes:
        out_dir: the demo folder. report_path: its `report.html`.
        stages: every stage's record (done, seconds summed over runs, a note).
        metrics: the evaluation's measurements (see `DemoMetrics.headline`).
        seconds: wall-clock time of this call.
    """

    out_dir: Path
    report_path: Path
    stages: tuple[StageRecord, ...]
    metrics: DemoMetrics
    seconds: float


class _Demo:
    """One call of `run_demo`: the folder, the device, the deadline and whether to show bars."""

    def __init__(self, config: DemoConfig, out_dir: Path, progress: bool = True) -> None:
        self.config = config
        self.progress = progress
        self.started = time.monotonic()
        self.deadline = self.started + config.minutes * 60
        self.folder = DemoFolder.open(out_dir, config)
        self.device = resolve_device(config.device)

    # ---------------------------------------------------------------------------------- stages

    def make_data(self) -> None:
        if self.folder.skip("data"):
            return
        config, started = self.config, time.perf_counter()
        synthesize_dataset(
            self.folder.data_dir,
            n_train=config.n_train,
            n_val=config.n_val,
            size=config.image_size,
            seed=config.seed,
            overwrite=True,
            progress=self.progress,
        )
        note = f"{config.n_train} train + {config.n_val} val frames"
        self.folder.record("data", True, time.perf_counter() - started, note)

    def dataset(self, split: str, flip: bool = False) -> CityscapesDataset:
        return CityscapesDataset(
            self.folder.data_dir, split, image_size=self.config.image_size, flip=flip
        )

    def train_segmenter(self) -> None:
        if self.folder.skip("segmenter"):
            return
        config, started = self.config, time.perf_counter()
        report = train_segmenter(
            self.dataset("train", flip=True),
            SegmenterConfig(width=config.segmenter_width, image_size=config.image_size),
            config.segmenter_steps,
            DEFAULT_BATCH_SIZE,
            DEFAULT_LR,
            self.device,
            config.seed,
            self.folder.segmenter_dir,
            progress=self.progress,
        )
        note = f"{report.steps} steps, final loss {report.final_loss:.3f}"
        self.folder.record("segmenter", True, time.perf_counter() - started, note)

    def train_config(self, entry: DemoModel, minutes: float | None = None) -> TrainConfig:
        config = self.config
        return TrainConfig(
            model=entry.model,
            preset=config.preset,
            model_options=dict(entry.options),
            data=str(self.folder.data_dir),
            image_size=config.image_size,
            batch_size=config.batch_size,
            lr=None if entry.model == "pix2pix" else config.lr,
            steps=config.max_steps,
            val_every=0,
            sample_every=0,
            checkpoint_every=CHECKPOINT_EVERY,
            keep_last=1,
            log_every=LOG_EVERY,
            device=config.device,
            seed=config.seed,
            time_budget_minutes=minutes,
        )

    def evaluation_reserve(self) -> float:
        """Seconds kept for the evaluation: `EVAL_COST_PER_IMAGE` times the segmenter's measured
        seconds per training image, per image the evaluation samples (every model, the untrained
        one included, at every temperature, on every val label)."""
        config = self.config
        record = self.folder.stage("segmenter")
        per_image = record.seconds / (config.segmenter_steps * DEFAULT_BATCH_SIZE) if record else 0
        images = (len(config.models) + 1) * len(config.temperatures) * config.n_val
        floor = MIN_EVAL_RESERVE_FRACTION * config.minutes * 60
        return max(floor, EVAL_COST_PER_IMAGE * per_image * images)

    def training_seconds(self, entry: DemoModel) -> float:
        """This model's share of what the budget leaves after the evaluation reserve."""
        pending = [m for m in self.config.models if not self.folder.is_done(f"train-{m.key}")]
        shares = [TRAINING_SHARE.get(m.model, 1.0) for m in pending[pending.index(entry) :]]
        available = self.deadline - time.monotonic() - self.evaluation_reserve()
        seconds = available * shares[0] / sum(shares)
        if seconds < MIN_TRAIN_SECONDS:
            log.warning(
                "the %.1f-minute budget is spent: training %s for %.0f s only",
                self.config.minutes, entry.title, MIN_TRAIN_SECONDS,
            )  # fmt: skip
        return max(seconds, MIN_TRAIN_SECONDS)

    def train_model(self, entry: DemoModel) -> None:
        stage = f"train-{entry.key}"
        if self.folder.skip(stage):
            return
        seconds = self.training_seconds(entry)
        run_dir = self.folder.run_dir(entry.key)
        resume = run_dir.exists()
        log.info(
            "%s %s for up to %.1f min (%s)", "resuming" if resume else "training",
            entry.title, seconds / 60, run_dir,
        )  # fmt: skip
        started = time.perf_counter()
        config = self.train_config(entry, seconds / 60)
        result = train(config, run_dir, resume=resume, progress=self.progress)
        elapsed = time.perf_counter() - started
        if result.signal is not None:
            self.folder.record(stage, False, elapsed, f"interrupted at step {result.steps}")
            raise KeyboardInterrupt
        self.folder.record(stage, True, elapsed, f"{result.steps} steps, {result.stopped}")

    def evaluate(self) -> DemoMetrics:
        models_key = ",".join(m.key for m in self.config.models)
        record = self.folder.stage("evaluate")
        metrics = read_demo_metrics(self.folder.eval_dir)
        if record is not None and record.done and record.note == models_key and metrics:
            log.info("evaluate: done in an earlier run (%.0f s), skipped", record.seconds)
            return metrics
        started = time.perf_counter()
        with staged_directory(self.folder.eval_dir, overwrite=True) as staging:
            metrics = self._evaluate_into(staging, started)
        self.folder.record("evaluate", True, time.perf_counter() - started, models_key)
        return metrics

    # ----------------------------------------------------------------------------- evaluation

    def _untrained_run(self) -> LoadedRun:
        """The default Full-Glow at step 0 of its run (`fullglow.training.initial_model`), to
        evaluate."""
        entry = self.config.models[0]
        model = initial_model(self.train_config(entry), self.dataset("train"), self.device)
        fingerprint = weights_fingerprint(model)
        return LoadedRun(model, self.folder.run_dir(entry.key), "untrained (step 0)", fingerprint)

    def _evaluate_into(self, staging: Path, started: float) -> DemoMetrics:
        config, folder = self.config, self.folder
        val = self.dataset("val")
        segmenter = prepare_segmenter(folder.segmenter_dir, config.image_size, self.device)
        settings = EvaluationSettings(
            temperatures=config.temperatures,
            rounds=1,
            batch_size=EVAL_BATCH_SIZE,
            seed=config.seed,
            bpd_draws=1,
            progress=self.progress,
        )
        grid = _GridWriter(staging / "grid", val, config.n_grid)
        t = config.headline_temperature

        def evaluate(run: LoadedRun) -> tuple[EvaluationReport, GridSamples]:
            report = evaluate_model(run, val, segmenter, settings)
            samples = grid_samples(
                run.model, val, config.temperatures, config.n_grid, EVAL_BATCH_SIZE, config.seed
            )
            return report, samples

        # Grid columns: the swept models (the Full-Glows) at each grid temperature side by side,
        # the untrained model, then the others at the headline temperature.
        models, results = config.models, {}
        for entry in (m for m in models if m.swept):
            run = load_run(folder.run_dir(entry.key), "last", self.device)
            report, samples = evaluate(run)
            if entry == models[0]:
                _write_transfer(run.model, val, staging / "transfer")
            for grid_t in GRID_TEMPERATURES:
                grid.add(
                    f"{entry.key}_T{grid_t}", f"{entry.title}, T = {grid_t}", samples.at(grid_t)
                )
            results[entry.key] = ModelResult(entry, report)
        untrained, samples = evaluate(self._untrained_run())
        grid.add("untrained", f"untrained {models[0].title}, T = {t}", samples.at(t))
        for entry in (m for m in models if not m.swept):
            report, samples = evaluate(load_run(folder.run_dir(entry.key), "last", self.device))
            grid.add(entry.key, entry.title, samples.at(t))
            results[entry.key] = ModelResult(entry, report)
        metrics = DemoMetrics(
            trained=tuple(results[m.key] for m in models),
            untrained=untrained,
            headline_temperature=t,
            grid_rows=grid.rows,
            grid_columns=tuple(grid.columns),
            transfer=True,
            seconds=time.perf_counter() - started,
        )
        atomic_write_text(staging / METRICS_FILE, _json(metrics.to_json()))
        return metrics


class _GridWriter:
    """Writes the report's grid: `{key}_{row}.png` per column, label and real photo first."""

    def __init__(self, directory: Path, val: CityscapesDataset, rows: int) -> None:
        self.directory = directory
        self.rows = rows
        self.columns: list[GridColumn] = []
        samples = [val[i] for i in range(rows)]
        self.add("label", "label", torch.stack([s.label_colour for s in samples]))
        self.add("real", "real photo", torch.stack([s.photo for s in samples]))

    def add(self, key: str, title: str, images: torch.Tensor) -> None:
        """One column: images `(rows, 3, H, W)` in [0, 1]."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for row, image in enumerate(to_uint8(images[: self.rows])):
            write_png(self.directory / f"{key}_{row}.png", image)
        self.columns.append(GridColumn(key, title))


@torch.no_grad()
def _write_transfer(model: nn.Module, val: CityscapesDataset, directory: Path) -> None:
    """Content transfer from val frame 0 to the structure of val frame 1 (`TRANSFER_IMAGES`)."""
    source, target = val[0], val[1]
    device = model_device(model)
    # The centre of each 8-bit bin: the photo as a continuous input of the flow.
    photo = (source.photo[None] + 0.5 / 256).to(device)
    label, new_label = source.label_colour[None].to(device), target.label_colour[None].to(device)
    transferred = content_transfer(model, photo, label, new_label)
    scaled = content_transfer(model, photo, label, new_label, scale=TRANSFER_SCALE)
    images = (
        source.photo[None],
        source.label_colour[None],
        target.label_colour[None],
        transferred,
        scaled,
        target.photo[None],
    )
    directory.mkdir(parents=True, exist_ok=True)
    for column, image in zip(TRANSFER_IMAGES, images, strict=True):
        write_png(directory / f"{column.key}.png", to_uint8(image)[0])


def _json(values: dict) -> str:
    import json

    return json.dumps(values, indent=2) + "\n"


def run_demo(config: DemoConfig, out_dir: Path | str, progress: bool = True) -> DemoResult:
    """Run (or resume) the whole demo into `out_dir` and write `out_dir/report.html`
    (`progress`: show the stages' progress bars).

    Raises:
        UserInputError: bad settings, or `out_dir` is neither new, empty nor a compatible demo
            folder.
        KeyboardInterrupt: after Ctrl-C, once the stage in progress left a usable state (a
            training checkpoint) and the report of the finished stages was rebuilt.
    """
    demo = _Demo(config, Path(out_dir), progress)
    try:
        with torch_threads(config.threads):
            demo.make_data()
            demo.train_segmenter()
            for entry in config.models:
                demo.train_model(entry)
            metrics = demo.evaluate()
    except KeyboardInterrupt:
        write_report(demo.folder.root)
        raise
    report = write_report(demo.folder.root)
    return DemoResult(
        out_dir=demo.folder.root,
        report_path=report,
        stages=tuple(demo.folder.stages()),
        metrics=metrics,
        seconds=time.monotonic() - demo.started,
    )
