"""The augmentation study's settings: one frozen dataclass, stored in `STUDY/study.json`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fullglow.errors import UserInputError
from fullglow.resumable import ResumableSettings
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import DEFAULT_STEPS
from fullglow.synthesis.selection import SELECTION_RULES
from fullglow.training.initial import trainable_models

RESUMABLE_FIELDS = frozenset({"minutes", "generator_share", "device", "threads"})
"""Fields a re-run into the same folder may change: they do not alter what is already done."""


@dataclass(frozen=True)
class StudyConfig(ResumableSettings):
    """Everything `run_study` needs.

    Attributes:
        data: a Cityscapes-layout dataset with train and val splits; None generates the built-in
            generator's street scenes (`real + pool` train frames, `val` val frames).
        image_size: `(H, W)` of every model and segmenter (sides divisible by the preset's
            `2**n_blocks`).
        real / pool: frames of the train split drawn (by `seed`) into the real set R and the
            label pool U; U's photos are read only by the oracle.
        val: val frames of the built-in dataset (ignored with `data`: its whole val split scores).
        seeds: segmenter seeds per row (spread = standard deviation over them).
        models: registry names of the generators trained on R, equal time each.
        runs: `(name, run folder)` pairs of generators trained elsewhere (on R only!).
        select: the selection rules tried (`likelihood` is skipped for a GAN).
        per_label / keep: candidates generated per label of U, and how many each rule keeps.
        temperature: the flows' sampling temperature.
        minutes: budget of one call (see `fullglow.study.budget`).
        generator_share: part of `minutes` that trains the generators, equal time each; the
            rest is for the data, the segmenters and the synthesis.
        generator_steps: the generators' training length if the budget does not stop it first.
        segmenter_steps / segmenter_width: each segmenter's training.
        extra_ratio: share of synthetic samples per batch (None: by dataset size).
        preset / batch_size / lr: the generators' registry preset, batch and learning rate.
        n_grid: labels shown in the report's grid of kept and rejected photos.
        seed: data, split, initialisation and sampling derive from it.
    """

    RESUMABLE_FIELDS: ClassVar[frozenset[str]] = RESUMABLE_FIELDS
    KIND: ClassVar[str] = "study"

    data: str | None = None
    image_size: tuple[int, int] = (32, 64)
    real: int = 50
    pool: int = 400
    val: int = 100
    seeds: int = 3
    models: tuple[str, ...] = ("fullglow", "pix2pix")
    runs: tuple[tuple[str, str], ...] = ()
    select: tuple[str, ...] = ("likelihood", "agreement")
    per_label: int = 4
    keep: int = 1
    temperature: float = 0.8
    minutes: float = 45.0
    generator_share: float = 0.5
    generator_steps: int = 100000
    segmenter_steps: int = DEFAULT_STEPS
    segmenter_width: int = SegmenterConfig.width
    extra_ratio: float | None = None
    preset: str = "demo"
    batch_size: int = 8
    lr: float = 1e-3
    device: str = "auto"
    threads: int | None = None
    n_grid: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "runs", tuple((str(n), str(d)) for n, d in self.runs))
        object.__setattr__(self, "select", tuple(self.select))
        self._validate()

    def _validate(self) -> None:
        problems = []
        for name in ("real", "pool", "val", "seeds", "per_label", "keep", "segmenter_steps",
                     "generator_steps", "batch_size", "n_grid"):  # fmt: skip
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.keep > self.per_label:
            problems.append(f"keep ({self.keep}) must not exceed per_label ({self.per_label})")
        unknown = sorted(set(self.models) - set(trainable_models()))
        if unknown:
            problems.append(f"unknown models {unknown} (choose from {trainable_models()})")
        names = [*self.models, *(n for n, _ in self.runs)]
        if len(set(names)) != len(names) or not names:
            problems.append(f"generator names must be unique and at least one, got {names}")
        bad_rules = sorted(set(self.select) - set(SELECTION_RULES)) or (not self.select)
        if bad_rules:
            problems.append(
                f"select must be among {list(SELECTION_RULES)}, got {list(self.select)}"
            )
        if not self.minutes > 0 or not self.temperature >= 0 or not self.lr > 0:
            problems.append("minutes and lr must be > 0 and temperature >= 0")
        if not 0 < self.generator_share < 1:
            problems.append(f"generator_share must be in (0, 1), got {self.generator_share}")
        if self.extra_ratio is not None and not 0 <= self.extra_ratio <= 1:
            problems.append(f"extra_ratio must be in [0, 1], got {self.extra_ratio}")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads must be >= 1, got {self.threads}")
        if problems:
            raise UserInputError("study: " + "; ".join(problems))

    def rules_for(self, has_likelihood: bool) -> tuple[str, ...]:
        """The selection rules a generator takes (no `likelihood` without one)."""
        return tuple(r for r in self.select if has_likelihood or r != "likelihood")
