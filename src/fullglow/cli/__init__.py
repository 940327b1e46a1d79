"""The `fullglow` command: one entry point whose subcommands live in `fullglow.cli.commands`.

Each module in `fullglow/cli/commands/` defines `register(subparsers) -> None`, which adds its
subcommand and sets `func(args) -> int | None` as the parser default. The CLI only parses and
validates; the work is done by library functions.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from fullglow.errors import UserInputError

log = logging.getLogger("fullglow")


def build_parser() -> argparse.ArgumentParser:
    from fullglow.cli import commands

    parser = argparse.ArgumentParser(
        prog="fullglow",
        description="Full-Glow: label maps to labelled street-scene photos with conditional flows.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"fullglow.cli.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except UserInputError as err:
        sys.stderr.write(f"fullglow {args.command}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"fullglow {args.command}: interrupted\n")
        return 130
    return int(code or 0)
