"""Outputs written through fullglow.files get the modes the user's umask gives ordinary files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fullglow.files import atomic_write_text, staged_directory


@pytest.fixture(params=[0o022, 0o007])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_files_get_the_mode_of_an_ordinary_open(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert _mode(target) == _mode(plain) == 0o666 & ~umask
    atomic_write_text(target, "{}\n")  # replacing keeps the umask's mode
    assert _mode(target) == 0o666 & ~umask


def test_staged_folders_get_the_mode_of_an_ordinary_mkdir(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "eval"
    for _ in range(2):  # a new folder, then one that replaces it
        with staged_directory(target, overwrite=True) as staging:
            (staging / "report.html").write_text("<html></html>")
        assert _mode(target) == 0o777 & ~umask
        assert _mode(target / "report.html") == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]
