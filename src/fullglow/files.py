"""All-or-nothing outputs: every file and folder fullglow writes appears complete or not at all.

A file is written to a temporary sibling, flushed to disk and renamed (`os.replace` is atomic on
POSIX and Windows); a folder of results is filled as a hidden temporary sibling and renamed into
place when everything succeeded. A run killed at any moment, or an error halfway, leaves the old
file (or nothing) under the real name, never a half-written one.

The temporaries are created with the modes an ordinary `open()` (0666) or `mkdir()` (0777) asks
for, which the user's umask then restricts, not with `tempfile.mkstemp`'s private 0600 / 0700: a
results folder shared by a team, or a report served by a web server, stays readable by whoever the
umask lets read it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fullglow.errors import UserInputError

TEMP_SUFFIX = ".tmp"
_NAME_TRIES = 100


def _create_file(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))


def _create_directory(path: Path) -> None:
    path.mkdir(mode=0o777)


def _new_temporary(
    directory: Path, prefix: str, suffix: str, create: Callable[[Path], None]
) -> Path:
    """Create (exclusively) and return a new `directory/{prefix}{random}{suffix}` with `create`;
    the umask applies as it does to any file or folder the user creates."""
    for _ in range(_NAME_TRIES):
        candidate = directory / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{directory}: no free temporary name {prefix}*{suffix}")


def atomic_write(target: Path, write: Callable[[Path], Any]) -> None:
    """Call `write(temporary_path)`, fsync the result, then rename it to `target`.

    On any failure the temporary file is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary(target.parent, f".{target.name}.", TEMP_SUFFIX, _create_file)
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
    retired = _new_temporary(target.parent, f".{target.name}.", ".old", _create_directory)
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
    staging = _new_temporary(target.parent, f".{target.name}.", TEMP_SUFFIX, _create_directory)
    try:
        yield staging
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
