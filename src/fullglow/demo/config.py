"""The demo's settings: one frozen dataclass, stored in `OUT/demo.json` by the first run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fullglow.errors import UserInputError
from fullglow.layers.coupling import coupling_name
from fullglow.models.registry import build_config
from fullglow.resumable import ResumableSettings
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import DEFAULT_STEPS
from fullglow.training.runs import display_name

BASELINES = ("cglow-v1", "cglow-v2", "dualglow", "pix2pix")
"""The paper's baselines, trained (small) with `--baselines`."""

PAPER_KEY = "fullglow-paper"
"""The run folder (`runs/fullglow-paper`) of Full-Glow as the paper configures it, trained with
`--baselines` beside the default Full-Glow."""

PAPER_PRESET = "paper-256"
"""The preset whose coupling is the paper's (affine, no scale floor): the paper configuration takes
it from there."""

GRID_TEMPERATURES = (0.7, 0.8, 1.0)
"""The sample columns of the report's grid."""

RESUMABLE_FIELDS = frozenset({"minutes", "device", "baselines", "threads"})
"""Fields a re-run into the same folder may change: they do not alter what is already done."""


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trains and evaluates.

    Attributes:
        key: its run folder `OUT/runs/{key}`, its stage `train-{key}` and its grid images.
        model: the registry name (`fullglow.models.registry`).
        title: how the report and the summary name it.
        options: model config fields that replace the demo preset's (`TrainConfig.model_options`).
        swept: shown at every one of `GRID_TEMPERATURES` in the grid and in the temperature sweep
            (Full-Glow); otherwise at the headline temperature only.
    """

    key: str
    model: str
    title: str
    options: dict[str, Any] = field(default_factory=dict)
    swept: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> DemoModel:
        """Parse `to_json()`'s output (raises TypeError on a malformed one)."""
        return cls(**values)


@dataclass(frozen=True)
class DemoConfig(ResumableSettings):
    """Everything `run_demo` needs.

    Attributes:
        image_size: `(H, W)` of the generated dataset and of every model; both sides must divide
            by `2**n_blocks` of the preset (8 for "demo", 4 for "tiny").
        minutes: the wall-clock budget of one `run_demo` call; the flow training gets what the
            fixed-size stages (data, segmenter, evaluation) leave of it.
        device: "cpu", "cuda", "cuda:N" or "auto" (cuda when available).
        threads: torch's CPU threads during the run (restored afterwards); None keeps torch's
            setting. With as many threads as cores, every operation waits for its slowest thread,
            so a program busy on one core slows training ten-fold (measured on 2 cores); the CLI
            therefore leaves one core free.
        baselines: also train and evaluate Full-Glow as the paper configures it (its affine
            coupling, `PAPER_KEY`) beside the default, and the small baselines (`BASELINES`).
        preset: the models' registry preset ("demo"; "tiny" for tests).
        n_train / n_val: images of the generated train and val splits.
        batch_size / lr: the flows' training batch and Adam's learning rate (pix2pix keeps its own).
        max_steps: the training length if the time budget does not stop it first.
        segmenter_steps / segmenter_width: the evaluator's training length and width.
        temperatures: the sweep; it must contain `GRID_TEMPERATURES` and `headline_temperature`.
        headline_temperature: the temperature of the trained-versus-untrained comparison.
        n_grid: val images shown in the report's sample grid.
        seed: data generation, initialisation, data order and sampling all derive from it.
    """

    RESUMABLE_FIELDS: ClassVar[frozenset[str]] = RESUMABLE_FIELDS
    KIND: ClassVar[str] = "demo"

    image_size: tuple[int, int] = (32, 64)
    minutes: float = 8.0
    device: str = "auto"
    threads: int | None = None
    baselines: bool = False
    preset: str = "demo"
    n_train: int = 400
    n_val: int = 32
    batch_size: int = 8
    lr: float = 1e-3
    max_steps: int = 4000
    segmenter_steps: int = DEFAULT_STEPS
    segmenter_width: int = SegmenterConfig.width
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0)
    headline_temperature: float = 0.8
    n_grid: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        self._validate()

    def _validate(self) -> None:
        problems = []
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            problems.append(f"size must be two positive sides HxW, got {self.image_size}")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads must be >= 1, got {self.threads}")
        if not self.minutes > 0:
            problems.append(f"minutes must be > 0, got {self.minutes}")
        for name in ("n_train", "n_val", "batch_size", "max_steps", "segmenter_steps", "n_grid"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_train < self.batch_size:
            problems.append(
                f"n_train ({self.n_train}) must be at least batch_size ({self.batch_size})"
            )
        if self.n_grid > self.n_val:
            problems.append(f"n_grid ({self.n_grid}) must not exceed n_val ({self.n_val})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        needed = {*GRID_TEMPERATURES, self.headline_temperature}
        missing = sorted(needed - set(self.temperatures))
        if missing:
            problems.append(f"temperatures {list(self.temperatures)} lack {missing}")
        if any(t < 0 for t in self.temperatures):
            problems.append(f"temperatures must be >= 0, got {list(self.temperatures)}")
        if not problems:  # every model at this size, before anything is trained
            for entry in self.models:
                try:
                    build_config(
                        entry.model, self.preset, image_size=self.image_size, **entry.options
                    )
                except (UserInputError, ValueError) as err:
                    problems.append(f"{entry.title}: {err}")
        if problems:
            raise UserInputError("demo: " + "; ".join(problems))

    @property
    def models(self) -> tuple[DemoModel, ...]:
        """The models trained, in training order: Full-Glow with the preset's settings first;
        with `baselines`, then Full-Glow with the paper's coupling and the baselines.

        Beside each other the two Full-Glows are titled by their coupling, as their runs' model
        configs (the preset with the entry's options) have it.
        """
        if not self.baselines:
            return (DemoModel("fullglow", "fullglow", display_name("fullglow"), swept=True),)
        paper = build_config("fullglow", PAPER_PRESET)
        return (
            self._fullglow("fullglow", "", {}),
            self._fullglow(
                PAPER_KEY,
                "paper's ",
                {"coupling": paper.coupling, "scale_floor": paper.scale_floor},
            ),
            *(DemoModel(name, name, display_name(name)) for name in BASELINES),
        )

    def _fullglow(self, key: str, qualifier: str, options: dict[str, Any]) -> DemoModel:
        """Full-Glow on the demo's preset with `options`, titled by its coupling."""
        built = build_config("fullglow", self.preset, **options)
        coupling = coupling_name(built.coupling, built.scale_floor)
        title = f"{display_name('fullglow')} ({qualifier}{coupling} coupling)"
        return DemoModel(key, "fullglow", title, options, swept=True)
