"""Atomic file writes: write a temporary file beside the target, flush it to disk, rename.

`os.replace` is atomic on POSIX and Windows, so a reader (or a run killed at any moment) sees the
old file or the complete new one, never a half-written file under the real name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TEMP_SUFFIX = ".tmp"


def atomic_write(target: Path, write: Callable[[Path], Any]) -> None:
    """Call `write(temporary_path)`, fsync the result, then rename it to `target`.

    On any failure the temporary file is removed and `target` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write(target, lambda path: path.write_text(text))


def atomic_torch_save(target: Path, payload: Any) -> None:
    atomic_write(target, lambda path: torch.save(payload, path))
