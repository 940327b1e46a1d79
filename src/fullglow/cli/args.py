"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse


def image_size(text: str) -> tuple[int, int]:
    """Parse `HxW` (e.g. `256x256`, `512x1024`) into `(height, width)`."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size HxW such as 256x256, got {text!r}")
    return int(parts[0]), int(parts[1])
