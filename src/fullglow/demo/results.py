"""What the demo measured: `OUT/eval/metrics.json`, and the headline comparison it makes.

The headline is the evaluator's mean IoU on Full-Glow's samples against that on the samples of
the same model before training (data-initialised, step 0), at `headline_temperature`: the
measured evidence that the model learned something.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fullglow.demo.config import DemoModel
from fullglow.errors import UserInputError
from fullglow.evaluation.report import EvaluationReport, RoundScores
from fullglow.training.runs import display_name

FORMAT = "fullglow-demo-metrics/2"
FORMAT_V1 = "fullglow-demo-metrics/1"
"""Written before the demo trained two Full-Glows: `trained` holds bare reports, Full-Glow first
(still read, so that a finished demo folder resumes)."""
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class GridColumn:
    """One column of the report's sample grid: images `eval/grid/{key}_{row}.png`."""

    key: str
    title: str


TRANSFER_SCALE = 0.7
"""The second transfer decodes the photo's latents scaled by this factor (the paper's sampling
temperature): a briefly trained flow's inverse can blow up on unscaled latents under a new label."""

TRANSFER_IMAGES = (
    GridColumn("photo", "a real val photo"),
    GridColumn("label", "its label"),
    GridColumn("new_label", "another label"),
    GridColumn("transferred", "the photo's latents decoded under the other label"),
    GridColumn("transferred_scaled", f"the same, latents x {TRANSFER_SCALE}"),
    GridColumn("new_photo", "the other label's real photo"),
)
"""The content-transfer example, `eval/transfer/{key}.png`."""


@dataclass(frozen=True)
class ModelResult:
    """One trained model's evaluation: which demo model it is (`entry`) and what it measured."""

    entry: DemoModel
    report: EvaluationReport

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.to_json(), "report": self.report.to_json()}

    @classmethod
    def from_json(cls, values: Any, where: str) -> ModelResult:
        return cls(
            DemoModel.from_json(values["entry"]),
            EvaluationReport.from_json(values["report"], where),
        )

    @classmethod
    def from_v1(cls, values: Any, where: str, first: bool) -> ModelResult:
        """A `FORMAT_V1` report: its run folder named the model; only the first was swept."""
        report = EvaluationReport.from_json(values, where)
        key = Path(report.run).name
        return cls(DemoModel(key, report.model, display_name(report.model), swept=first), report)


@dataclass(frozen=True)
class Headline:
    """Mean IoU (fractions) of trained and untrained samples at one temperature, and the ceiling."""

    temperature: float
    trained_miou: float
    untrained_miou: float
    ground_truth_miou: float

    @property
    def gain(self) -> float:
        return self.trained_miou - self.untrained_miou


@dataclass(frozen=True)
class DemoMetrics:
    """Everything the evaluation stage measured.

    Attributes:
        trained: one result per trained model, in `DemoConfig.models` order (Full-Glow first).
        untrained: Full-Glow at step 0 (same seed, data-initialised), scored the same way.
        headline_temperature: `T` of the trained-versus-untrained comparison.
        grid_rows / grid_columns: the sample grid written to `eval/grid/`.
        transfer: whether `eval/transfer/` holds a content-transfer example.
        seconds: wall-clock time of the evaluation.
    """

    trained: tuple[ModelResult, ...]
    untrained: EvaluationReport
    headline_temperature: float
    grid_rows: int
    grid_columns: tuple[GridColumn, ...]
    transfer: bool
    seconds: float

    @property
    def fullglow(self) -> EvaluationReport:
        """The default Full-Glow's report (the headline's)."""
        return self.trained[0].report

    @property
    def swept(self) -> tuple[ModelResult, ...]:
        """The results shown at every temperature (the Full-Glows)."""
        return tuple(r for r in self.trained if r.entry.swept)

    @property
    def ground_truth(self) -> RoundScores:
        return self.fullglow.ground_truth

    def headline(self) -> Headline:
        """The trained-versus-untrained mean IoU at `headline_temperature`.

        Raises:
            UserInputError: either report lacks that temperature.
        """
        t = self.headline_temperature
        trained, untrained = self.fullglow.at(t), self.untrained.at(t)
        if trained is None or untrained is None:
            raise UserInputError(f"metrics: no result at the headline temperature {t}")
        return Headline(
            t, trained.mean_iou.mean, untrained.mean_iou.mean, self.ground_truth.mean_iou
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "headline_temperature": self.headline_temperature,
            "trained": [r.to_json() for r in self.trained],
            "untrained": self.untrained.to_json(),
            "grid_rows": self.grid_rows,
            "grid_columns": [{"key": c.key, "title": c.title} for c in self.grid_columns],
            "transfer": self.transfer,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, values: Any, where: str) -> DemoMetrics:
        if not isinstance(values, dict) or values.get("format") not in (FORMAT, FORMAT_V1):
            raise UserInputError(f"{where}: not a {FORMAT!r} file")
        try:
            if values["format"] == FORMAT_V1:
                trained = tuple(
                    ModelResult.from_v1(r, where, first=i == 0)
                    for i, r in enumerate(values["trained"])
                )
            else:
                trained = tuple(ModelResult.from_json(r, where) for r in values["trained"])
            return cls(
                trained=trained,
                untrained=EvaluationReport.from_json(values["untrained"], where),
                headline_temperature=float(values["headline_temperature"]),
                grid_rows=int(values["grid_rows"]),
                grid_columns=tuple(GridColumn(**c) for c in values["grid_columns"]),
                transfer=bool(values["transfer"]),
                seconds=float(values["seconds"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserInputError(f"{where}: malformed demo metrics ({err!r})") from None


def read_demo_metrics(eval_dir: Path) -> DemoMetrics | None:
    """The metrics of a finished evaluation stage, or None when there are none yet."""
    path = eval_dir / METRICS_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from err
    return DemoMetrics.from_json(values, str(path))
