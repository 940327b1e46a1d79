"""`run_study`: the augmentation study, stage by stage, resumable (see `fullglow.study`).

    STUDY/study.json               marker: settings and one record per stage (done, seconds)
    STUDY/data/                    the built-in dataset (without --data)
    STUDY/split/real/              R: photos and labels (train split), all a generator sees
    STUDY/split/pool_labels/       U's labels only (what the generators synthesize from)
    STUDY/split/pool_real/         U's photos and labels: read by the oracle alone
    STUDY/split/split.json         R's and U's frames
    STUDY/runs/<model>/            each generator's training run (on R)
    STUDY/aug/<generator>-<rule>/  `fullglow augment` outputs for U's labels
    STUDY/segmenters/<row>-s<k>/   segmenter of each row and seed
    STUDY/scores/<row>-s<k>.json   its val scores (mean and per-class IoU)
    STUDY/results.json, table.md, report.html

Each stage records itself when it completes, and writes atomically (a staged folder, an atomic
file, a resumable augment, a training run resumed from its checkpoint), so Ctrl-C or a crash
loses at most the stage in progress and the same call continues. Time: see
`fullglow.study.budget`; the segmenters on R and the untrained control's synthesis run before any
generator trains, so the plan logged then predicts the rest from measured speed. A flow's
candidates are generated and scored once: its first rule's folder keeps the rejected ones, and
every further rule reselects from it (`reselect_augment`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.data.cityscapes import COLOUR_SUFFIX, INSTANCE_SUFFIX, LABEL_IDS_SUFFIX
from fullglow.data.labels import IGNORE_INDEX, TRAIN_LABELS
from fullglow.demo.folder import StageFolder, StageRecord
from fullglow.errors import UserInputError
from fullglow.files import atomic_write_text, staged_directory
from fullglow.segmenter.loading import load_segmenter
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import DEFAULT_BATCH_SIZE, DEFAULT_LR, train_segmenter
from fullglow.study.budget import BudgetPlan, RestEstimate
from fullglow.study.config import StudyConfig
from fullglow.synthesis.augment import augment_dataset, read_scores, reselect_augment
from fullglow.synthesis.splits import open_dataset_split
from fullglow.threads import torch_threads
from fullglow.training import TrainConfig, initial_model, train
from fullglow.training.distributed import resolve_device
from fullglow.training.runs import RunOptions, load_run

log = logging.getLogger(__name__)

UNTRAINED = "untrained"
"""The negative control: Full-Glow at step 0 of its run on R, one sample per label, no selection."""


class StudyFolder(StageFolder):
    """A study output folder (see the module docstring for the layout)."""

    MARKER_FILE = "study.json"
    FORMAT = "fullglow-study/1"
    CONFIG_TYPE = StudyConfig
    KIND = "study"


@dataclass(frozen=True)
class StudyResult:
    """What `run_study` produced: the folder, its stages, `results.json`'s content, this call's
    wall-clock seconds."""

    out_dir: Path
    stages: tuple[StageRecord, ...]
    results: dict
    seconds: float


def _copy_frames(source: CityscapesDataset, indices: list[int], target: Path, photos: bool) -> None:
    """Copy frames (photo when `photos`, labels always) into a new train split at `target`."""
    with staged_directory(target, overwrite=True) as staging:
        for index in indices:
            record = source.records[index]
            labels = staging / "gtFine" / "train" / record.city
            labels.mkdir(parents=True, exist_ok=True)
            stem = record.label_ids_path.name[: -len(LABEL_IDS_SUFFIX)]
            for suffix in (LABEL_IDS_SUFFIX, COLOUR_SUFFIX, INSTANCE_SUFFIX):
                path = record.label_ids_path.with_name(stem + suffix)
                if path.is_file():
                    shutil.copy2(path, labels / path.name)
            if photos:
                folder = staging / "leftImg8bit" / "train" / record.city
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy2(record.photo_path, folder / record.photo_path.name)


def _classes_present(dataset: CityscapesDataset) -> set[int]:
    present: set[int] = set()
    for index in range(len(dataset)):
        ids = dataset[index].train_ids
        present.update(int(c) for c in ids[ids != IGNORE_INDEX].unique())
    return present


class _Study:
    """One call of `run_study`: the folder, the device and the budget plan."""

    def __init__(self, config: StudyConfig, out_dir: Path, overwrite: bool) -> None:
        self.config = config
        self.started = time.monotonic()
        if overwrite and out_dir.is_dir():
            shutil.rmtree(out_dir)
        elif overwrite and out_dir.exists():
            out_dir.unlink()
        self.folder = StudyFolder.open(out_dir, config)
        self.root = self.folder.root
        self.device = resolve_device(config.device)
        self.plan = BudgetPlan(config.minutes, config.generator_share, config.models)
        log.info("study plan: %s", self.plan.describe())
        if self.plan.warning:
            log.warning("study: WARNING: %s", self.plan.warning)

    def timed(self, name: str, work: Callable[[], str]) -> None:
        """Run `work()` (returning a note) as stage `name` unless it is done."""
        if self.folder.skip(name):
            return
        log.info("study: %s", name)
        started = time.perf_counter()
        note = work()
        self.folder.record(name, True, time.perf_counter() - started, note)

    # ------------------------------------------------------------------------------- data

    @property
    def data_dir(self) -> Path:
        return Path(self.config.data) if self.config.data else self.root / "data"

    def make_data(self) -> None:
        config = self.config
        if config.data is not None:
            try:
                CityscapesDataset(self.data_dir, "val")
            except UserInputError as err:
                raise UserInputError(
                    f"--data {self.data_dir} has no usable val split: {err}"
                ) from None
            return

        def work() -> str:
            synthesize_dataset(
                self.data_dir, n_train=config.real + config.pool, n_val=config.val,
                size=config.image_size, seed=config.seed, overwrite=True,
            )  # fmt: skip
            return f"{config.real + config.pool} train + {config.val} val frames"

        self.timed("data", work)

    def split_dir(self, part: str) -> Path:
        return self.root / "split" / part

    def make_split(self) -> None:
        config = self.config

        def work() -> str:
            train = CityscapesDataset(self.data_dir, "train")
            wanted = config.real + config.pool
            if len(train) < wanted:
                raise UserInputError(
                    f"{self.data_dir}: the train split holds {len(train)} frames, fewer than "
                    f"--real {config.real} + --pool {config.pool} = {wanted}"
                )
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(config.seed))
            real, pool = order[: config.real].tolist(), order[config.real : wanted].tolist()
            _copy_frames(train, real, self.split_dir("real"), photos=True)
            _copy_frames(train, pool, self.split_dir("pool_labels"), photos=False)
            _copy_frames(train, pool, self.split_dir("pool_real"), photos=True)
            stems = {
                "real": sorted(train.records[i].stem for i in real),
                "pool": sorted(train.records[i].stem for i in pool),
            }
            atomic_write_text(
                self.root / "split" / "split.json", json.dumps(stems, indent=1) + "\n"
            )
            return f"R = {len(real)}, U = {len(pool)} of {len(train)} train frames"

        self.timed("split", work)
        size = config.image_size
        only_in_pool = _classes_present(
            CityscapesDataset(self.split_dir("pool_labels"), "train", size, require_photos=False)
        ) - _classes_present(CityscapesDataset(self.split_dir("real"), "train", size))
        if only_in_pool:
            names = ", ".join(TRAIN_LABELS[c].name for c in sorted(only_in_pool))
            log.warning("classes in the pool U that never occur in R: %s", names)

    # -------------------------------------------------------------------------- segmenters

    def val_set(self) -> CityscapesDataset:
        return CityscapesDataset(self.data_dir, "val", image_size=self.config.image_size)

    def segmenter_dir(self, row: str, seed: int) -> Path:
        return self.root / "segmenters" / f"{row}-s{seed}"

    def scores_path(self, row: str, seed: int) -> Path:
        return self.root / "scores" / f"{row}-s{seed}.json"

    def train_row(self, row: str, extra: Path | None) -> None:
        """Segmenters of one row for every seed: R (+ `extra`'s train split), scored on val."""
        config, size = self.config, self.config.image_size
        for seed in range(config.seeds):

            def work(seed: int = seed) -> str:
                real = CityscapesDataset(self.split_dir("real"), "train", size, flip=True)
                extra_set = (
                    None if extra is None else CityscapesDataset(extra, "train", size, flip=True)
                )
                report = train_segmenter(
                    real, SegmenterConfig(width=config.segmenter_width, image_size=size),
                    config.segmenter_steps, DEFAULT_BATCH_SIZE, DEFAULT_LR, self.device,
                    config.seed * 1000 + seed, self.segmenter_dir(row, seed), self.val_set(),
                    extra_dataset=extra_set, extra_ratio=config.extra_ratio,
                )  # fmt: skip
                scores = report.val_scores
                payload = {
                    "row": row, "seed": seed, "mean_iou": scores.mean_iou,
                    "per_class_iou": [None if math.isnan(v) else v for v in scores.per_class_iou.tolist()],
                    "extra_images": 0 if extra_set is None else len(extra_set),
                }  # fmt: skip
                atomic_write_text(self.scores_path(row, seed), json.dumps(payload) + "\n")
                return f"val mIoU {100 * scores.mean_iou:.2f}%"

            self.timed(f"segmenter-{row}-s{seed}", work)

    # ------------------------------------------------------------------------- generators

    def train_config(self, model: str, minutes: float | None = None) -> TrainConfig:
        config = self.config
        return TrainConfig(
            model=model, preset=config.preset, data=str(self.split_dir("real")),
            image_size=config.image_size, batch_size=config.batch_size,
            lr=None if model == "pix2pix" else config.lr, steps=config.generator_steps,
            val_every=0, sample_every=0, checkpoint_every=100, keep_last=1, log_every=5,
            device=config.device, seed=config.seed, time_budget_minutes=minutes,
        )  # fmt: skip

    def segmenters_left(self) -> int:
        rows = len(self.rows()) * self.config.seeds
        done = sum(1 for s in self.folder.stages() if s.name.startswith("segmenter-") and s.done)
        return max(0, rows - done)

    def candidates_left(self) -> int:
        """Candidates still to generate: each generator's once (its first rule's folder)."""
        config = self.config
        return sum(
            config.pool * (1 if name == UNTRAINED else config.per_label)
            for name in self.generators()
            if not self.folder.is_done(f"augment-{name}-{self.rules(name)[0]}")
        )

    def estimate_rest(self) -> RestEstimate:
        """What is left but the generators' training, at the speed measured so far (a flow's
        candidate time stands for every generator's: pix2pix samples faster)."""
        segmenters = [s.seconds for s in self.folder.stages() if s.name.startswith("segmenter-")]
        per_candidate = []
        for name in self.generators():
            rule = self.rules(name)[0]
            record = self.folder.stage(f"augment-{name}-{rule}")
            if record is not None and record.done:
                generated = len(read_scores(self.aug_dir(name, rule)))
                per_candidate.append(record.seconds / max(1, generated))
        estimate = RestEstimate(
            segmenters=self.segmenters_left(),
            segmenter_seconds=float(np.mean(segmenters)) if segmenters else 0.0,
            candidates=self.candidates_left(),
            candidate_seconds=float(np.max(per_candidate)) if per_candidate else 0.0,
        )
        left = self.plan.rest_minutes - (time.monotonic() - self.started) / 60
        log.info(
            "study plan: left but the generators: %s (of %.1f min left in its share)",
            estimate.describe(), left,
        )  # fmt: skip
        if estimate.minutes > left:
            log.warning(
                "study: the rest is predicted to overrun --minutes by %.1f min (fewer "
                "--segmenter-steps or --per-label shorten it)", estimate.minutes - left,
            )  # fmt: skip
        return estimate

    def train_generator(self, model: str) -> None:
        stage = f"train-{model}"
        if self.folder.skip(stage):
            return
        seconds = self.plan.generator_minutes * 60
        run_dir = self.root / "runs" / model
        log.info("study: training %s on R for up to %.1f min", model, seconds / 60)
        started = time.perf_counter()
        result = train(self.train_config(model, seconds / 60), run_dir, resume=run_dir.exists())
        elapsed = time.perf_counter() - started
        if result.signal is not None:
            self.folder.record(stage, False, elapsed, f"interrupted at step {result.steps}")
            raise KeyboardInterrupt
        self.folder.record(stage, True, elapsed, f"{result.steps} steps, {result.stopped}")

    def generators(self) -> list[str]:
        """Generator names, the untrained control last (when Full-Glow is trained here)."""
        names = [*self.config.models, *(n for n, _ in self.config.runs)]
        return [*names, UNTRAINED] if "fullglow" in self.config.models else names

    def generator_dir(self, name: str) -> Path:
        """The run folder of a trained generator (given with `runs`, or trained here)."""
        return Path(dict(self.config.runs).get(name, self.root / "runs" / name))

    def load_generator(self, name: str) -> nn.Module:
        if name == UNTRAINED:
            config = self.train_config("fullglow")
            dataset = CityscapesDataset(self.split_dir("real"), "train", self.config.image_size)
            return initial_model(config, dataset, self.device)
        return load_run(self.generator_dir(name), "last", self.device).model

    def denoise_sigma(self, name: str) -> float | None:
        """A generator trained on noisy photos (`noise_sigma`) has its samples denoised with
        its own sigma; None for the others."""
        if name == UNTRAINED:
            return None
        return RunOptions.of_run(self.generator_dir(name)).denoise_sigma

    def aug_dir(self, generator: str, rule: str) -> Path:
        return self.root / "aug" / f"{generator}-{rule}"

    def synthesize(self, name: str) -> None:
        """Generate and score U's candidates once under the first rule (rejected ones kept),
        then reselect them under every further rule."""
        config = self.config
        first, *others = self.rules(name)
        stage = f"augment-{name}-{first}"
        if not self.folder.skip(stage):
            model = self.load_generator(name)
            labels = open_dataset_split(
                self.split_dir("pool_labels"), "train", config.image_size, require_photos=False
            )
            per_label = 1 if name == UNTRAINED else config.per_label
            denoised = self.denoise_sigma(name)
            started = time.perf_counter()
            summary = augment_dataset(
                model, labels, self.aug_dir(name, first), per_label=per_label,
                temperature=config.temperature if model.has_likelihood else None,
                seed=config.seed, select=first,
                keep=per_label if first == "all" else config.keep,
                judge=load_segmenter(self.segmenter_dir("real", 0)).to(self.device),
                save_rejected=True, denoise_sigma=denoised,
            )  # fmt: skip
            note = (
                f"kept {summary.kept}, {summary.diverged} diverged, "
                f"{summary.candidates_per_second:.1f} candidates/s"
                + ("" if denoised is None else f", denoised with sigma {denoised:g}")
            )
            self.folder.record(stage, True, time.perf_counter() - started, note)
        for rule in others:

            def work(rule: str = rule) -> str:
                summary = reselect_augment(
                    self.aug_dir(name, first), self.aug_dir(name, rule), rule,
                    config.per_label if rule == "all" else config.keep, overwrite=True,
                )  # fmt: skip
                return f"kept {summary.kept}, reselected from {first}"

            self.timed(f"augment-{name}-{rule}", work)

    def rules(self, name: str) -> tuple[str, ...]:
        """The rules generator `name` is synthesized with (no `likelihood` for a GAN)."""
        if name == UNTRAINED:
            return ("all",)
        if name in dict(self.config.runs):
            has_likelihood = self.load_generator(name).has_likelihood
        else:
            has_likelihood = name != "pix2pix"
        return self.config.rules_for(has_likelihood)

    def rows(self) -> list[tuple[str, Path | None]]:
        """`(row, extra dataset)`: R alone, the oracle, then every generator and rule."""
        rows: list[tuple[str, Path | None]] = [
            ("real", None),
            ("oracle", self.split_dir("pool_real")),
        ]
        for name in self.generators():
            rows.extend((f"{name}-{rule}", self.aug_dir(name, rule)) for rule in self.rules(name))
        return rows


def run_study(config: StudyConfig, out_dir: Path | str, overwrite: bool = False) -> StudyResult:
    """Run (or resume) the whole study into `out_dir` and write its results and report; with
    `overwrite`, an existing `out_dir` is deleted first.

    Raises:
        UserInputError: bad settings or data (a pool smaller than asked, no val split, ...), or
            `out_dir` is neither new, empty nor a compatible study folder (without `overwrite`).
        KeyboardInterrupt: after Ctrl-C, once the stage in progress left a resumable state.
    """
    from fullglow.study.report import write_results

    study = _Study(config, Path(out_dir), overwrite)
    with torch_threads(config.threads):
        study.make_data()
        study.make_split()
        study.train_row("real", None)
        if UNTRAINED in study.generators():
            study.synthesize(UNTRAINED)
        study.estimate_rest()
        for model in config.models:
            study.train_generator(model)
        for name in study.generators():
            study.synthesize(name)
        for row, extra in study.rows()[1:]:
            study.train_row(row, extra)
    results = write_results(study)
    return StudyResult(
        out_dir=study.root,
        stages=tuple(study.folder.stages()),
        results=results,
        seconds=time.monotonic() - study.started,
    )
