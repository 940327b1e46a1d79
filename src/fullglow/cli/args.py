"""Argument types and options shared by the subcommands."""

from __future__ import annotations

import argparse

import torch

from fullglow.errors import UserInputError


def image_size(text: str) -> tuple[int, int]:
    """Parse `HxW` (e.g. `256x256`, `512x1024`) into `(height, width)`."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size HxW such as 256x256, got {text!r}")
    return int(parts[0]), int(parts[1])


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """`--threads N`, by default one per core less one (what this machine's torch has, less one):
    with every core computing, any other busy program slows torch many-fold."""
    default = max(1, torch.get_num_threads() - 1)
    parser.add_argument(
        "--threads", type=int, default=default,
        help=f"CPU threads for torch (default: the cores less one, {default} here: with every "
        "core in use, any other busy program slows the work ten-fold)",
    )  # fmt: skip


def use_threads(threads: int) -> None:
    """Set torch's CPU threads (`--threads`).

    Raises:
        UserInputError: `threads` < 1.
    """
    if threads < 1:
        raise UserInputError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress bars (log lines and results are still written)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
