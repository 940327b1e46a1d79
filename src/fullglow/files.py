"""All-or-nothing outputs: every file and folder fullglow writes appears complete or not at all.

A file is written to a temporary sibling, flushed to disk and renamed (`os.replace` is atomic on
POSIX and Windows); a folder of results is filled as a hidden temporary sibling and renamed into
place when everything succeeded. A run killed at any moment, or an error halfway, leaves the old
file (or nothing) under the real name, never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fullglow.errors import UserInputError

TEMP_SUFFIX = ".tmp"


def atomic_write(target: Path, write: Callable[[Path], Any]) -> None:
    """Call `write(temporary_path)`, fsync the result, then rename it to `target`.

    On any failure the temporary file is removed and `target` is left as it was.
    """
    target = Path(target)
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


def check_new_output(path: Path, overwrite: bool) -> None:
    """Raise `UserInputError` when `path` exists (unless `overwrite`, or it is an empty folder)."""
    if not path.exists() or overwrite:
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise UserInputError(
        f"{path} already exists; choose a new output path (or pass --overwrite to replace it)"
    )


def _replace(staging: Path, target: Path) -> None:
    """Move `staging` to `target`, retiring an existing `target` first (two renames)."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, retired / target.name)
    os.replace(staging, target)
    shutil.rmtree(retired)


@contextmanager
def staged_directory(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `target` that becomes `target` when the block succeeds.

    On an exception the temporary folder is deleted and `target` is left as it was.

    Raises:
        UserInputError: `target` exists and `overwrite` is False (see `check_new_output`).
    """
    target = Path(target)
    check_new_output(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    )
    try:
        yield staging
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
