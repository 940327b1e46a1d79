"""The metrics log of a run: `RUN/metrics.jsonl`, one JSON object per record (and TensorBoard
scalars under `RUN/tensorboard/` when the `tensorboard` package is installed)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from fullglow.files import atomic_write_text

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def _json_number(value: Any) -> Any:
    """JSON has no NaN/inf: write them as strings so that the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def read_training_log(run_dir: Path) -> list[dict[str, Any]]:
    """Every record of `RUN/metrics.jsonl`, in order."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricsLog:
    """Appends records `{"step": ..., ...}`; a resumed run first drops records after its step."""

    def __init__(self, run_dir: Path, resume_step: int) -> None:
        self.path = run_dir / METRICS_FILE
        kept = [r for r in read_training_log(run_dir) if r.get("step", 0) <= resume_step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._tensorboard = _tensorboard_writer(run_dir / "tensorboard", resume_step)

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps({k: _json_number(v) for k, v in record.items()}) + "\n")
        self._file.flush()
        if self._tensorboard is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    self._tensorboard.add_scalar(key, value, record["step"])

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


def _tensorboard_writer(directory: Path, resume_step: int) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(directory), purge_step=resume_step + 1 if resume_step else None)
