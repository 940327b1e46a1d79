"""Checkpoints of a run: `RUN/checkpoints/last-{step:08d}.pt` (the newest K) and `best.pt`.

A checkpoint is one `torch.save`d dict of plain values and tensors (loadable with
`weights_only=True`): the model's name, config and weights, the optimizers' and schedulers' states,
the step, the data position `(epoch, batch within the epoch)`, the best validation value, and the
random states of every rank. Each is written atomically (`fullglow.files`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, NamedTuple

import torch

from fullglow.errors import UserInputError
from fullglow.files import TEMP_SUFFIX, atomic_write

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.pt"
LAST_PATTERN = re.compile(r"^last-(\d{8})\.pt$")
FORMAT_VERSION = 1


def last_name(step: int) -> str:
    return f"last-{step:08d}.pt"


class DataPosition(NamedTuple):
    """Where the data stream stands: the next batch is batch `batch` of epoch `epoch`."""

    epoch: int
    batch: int


def capture_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's global random states: the CPU generator, and the device's on CUDA."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


class CheckpointStore:
    """The checkpoint folder of one run: writes, prunes and finds checkpoints."""

    def __init__(self, run_dir: Path, keep_last: int) -> None:
        self.directory = run_dir / CHECKPOINT_DIR
        self.keep_last = keep_last

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files left by a process killed in the middle of a write."""
        if self.directory.is_dir():
            for path in self.directory.glob(f".*{TEMP_SUFFIX}"):
                path.unlink(missing_ok=True)

    def last_paths(self) -> list[Path]:
        """Every `last-*.pt`, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if LAST_PATTERN.match(p.name)]
        return sorted(found, key=lambda p: p.name)

    def latest(self) -> Path | None:
        paths = self.last_paths()
        return paths[-1] if paths else None

    @property
    def best_path(self) -> Path:
        return self.directory / BEST_FILE

    def save_last(self, payload: dict[str, Any]) -> Path:
        """Write `last-{step}.pt`, then delete all but the newest `keep_last`."""
        path = self.directory / last_name(payload["step"])
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
        for old in self.last_paths()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def save_best(self, payload: dict[str, Any]) -> Path:
        atomic_write(self.best_path, lambda tmp: torch.save(payload, tmp))
        return self.best_path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `CheckpointStore`; a `UserInputError` names a bad file."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as err:
        raise UserInputError(f"{path}: no such checkpoint") from err
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise UserInputError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise UserInputError(f"{path}: not a fullglow training checkpoint")
    return payload
