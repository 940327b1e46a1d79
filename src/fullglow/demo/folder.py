"""The demo's output folder: its layout, its marker file and the record of finished stages.

    OUT/demo.json          marker: format, settings and one record per stage (done, seconds)
    OUT/data/              the generated dataset (Cityscapes layout)
    OUT/segmenter/         the evaluator segmentation network
    OUT/runs/<key>/        one training run per model (`DemoModel.key`; checkpoints, metrics.jsonl)
    OUT/eval/              metrics.json and the report's images (PNG)
    OUT/report.html        the report

A folder without `demo.json` is a demo folder only when it is empty or new; anything else is
refused, so that the demo never writes into (or deletes from) a folder it did not make.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from fullglow.demo.config import DemoConfig
from fullglow.errors import UserInputError
from fullglow.files import atomic_write_text

log = logging.getLogger(__name__)

MARKER_FILE = "demo.json"
FORMAT = "fullglow-demo/1"


@dataclass(frozen=True)
class StageRecord:
    """One stage's state: `done` once it completed, `seconds` of work summed over runs."""

    name: str
    done: bool
    seconds: float
    note: str = ""


class StageConfig(Protocol):
    """What a resumable pipeline's settings offer its folder (e.g. `DemoConfig`)."""

    def to_dict(self) -> dict[str, Any]: ...

    def incompatible(self, stored: Any) -> dict[str, tuple[Any, Any]]: ...


class StageFolder:
    """An output folder of a resumable pipeline: a marker file holding the settings and one
    record per stage. Subclasses name the marker, its format and the settings' type."""

    MARKER_FILE: ClassVar[str] = MARKER_FILE
    FORMAT: ClassVar[str] = FORMAT
    CONFIG_TYPE: ClassVar[Any] = DemoConfig
    KIND: ClassVar[str] = "demo"

    def __init__(self, root: Path, config: Any, stages: dict[str, StageRecord]) -> None:
        self.root = root
        self.config = config
        self._stages = stages

    @classmethod
    def open(cls, root: Path | str, config: StageConfig) -> Any:
        """Create a new folder or reopen one made with compatible settings.

        Raises:
            UserInputError: `root` is a file, a non-empty folder that is not a demo folder, or a
                demo folder made with settings that a re-run may not change (size, seed, ...).
        """
        root = Path(root)
        marker = root / cls.MARKER_FILE
        if root.exists() and not root.is_dir():
            raise UserInputError(f"--out {root} exists and is not a folder")
        if not marker.is_file():
            if root.is_dir() and any(root.iterdir()):
                raise UserInputError(
                    f"--out {root} is not empty and is not a {cls.KIND} folder (no "
                    f"{cls.MARKER_FILE}); refusing to write into it: choose a new or empty folder"
                )
            folder = cls(root, config, {})
            folder._save()
            return folder
        stored, stages = read_marker(marker, cls.FORMAT, cls.CONFIG_TYPE)
        changed = config.incompatible(stored)
        if changed:
            listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
            raise UserInputError(
                f"--out {root} holds a {cls.KIND} made with other settings ({listed}); re-run "
                "with the same settings to resume it, or choose a new --out folder"
            )
        folder = cls(root, config, stages)
        folder._save()
        return folder

    def stage(self, name: str) -> StageRecord | None:
        return self._stages.get(name)

    def is_done(self, name: str) -> bool:
        record = self._stages.get(name)
        return record is not None and record.done

    def skip(self, name: str) -> bool:
        """Whether stage `name` was done by an earlier run (said in the log, so it is skipped)."""
        record = self._stages.get(name)
        if record is None or not record.done:
            return False
        log.info(
            "%s: done in an earlier run (%.0f s, %s), skipped", name, record.seconds, record.note
        )
        return True

    def stages(self) -> list[StageRecord]:
        """Every recorded stage, in the order they were first recorded."""
        return list(self._stages.values())

    def record(self, name: str, done: bool, seconds: float, note: str = "") -> StageRecord:
        """Add `seconds` to the stage's time, set its state and save the marker atomically."""
        previous = self._stages.get(name)
        total = seconds + (previous.seconds if previous is not None else 0.0)
        record = StageRecord(name, done, total, note)
        self._stages[name] = record
        self._save()
        return record

    def _save(self) -> None:
        payload = {
            "format": self.FORMAT,
            "config": self.config.to_dict(),
            "stages": [asdict(record) for record in self._stages.values()],
        }
        atomic_write_text(self.root / self.MARKER_FILE, json.dumps(payload, indent=2) + "\n")


class DemoFolder(StageFolder):
    """A demo output folder opened for a given config (see the module docstring for the layout)."""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def segmenter_dir(self) -> Path:
        return self.root / "segmenter"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def report_path(self) -> Path:
        return self.root / "report.html"

    def run_dir(self, model: str) -> Path:
        return self.root / "runs" / model


def read_marker(
    marker: Path, marker_format: str = FORMAT, config_type: Any = DemoConfig
) -> tuple[Any, dict[str, StageRecord]]:
    """The settings and stage records of a marker file (`demo.json` by default)."""
    try:
        payload = json.loads(marker.read_text())
        if payload.get("format") != marker_format:
            raise UserInputError(
                f"{marker}: not a {marker_format} marker (format {payload.get('format')!r})"
            )
        config = config_type.from_dict(payload["config"], where=str(marker))
        stages = {s["name"]: StageRecord(**s) for s in payload["stages"]}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise UserInputError(f"{marker}: unreadable {marker_format} marker ({err})") from err
    return config, stages
