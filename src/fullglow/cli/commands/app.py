"""`fullglow app`: a local page to paint a label map and get its photos (needs the `app` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fullglow.cli.args import add_threads_option, use_threads
from fullglow.cli.commands.sample import add_run_option, load_run_from_args
from fullglow.errors import UserInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "app",
        help="a local page: paint a street's labels, get its photos (pip install -e '.[app]')",
        description=(
            "Serve a page on which to paint a label map (or start from a val label of DATA or "
            "an uploaded one) and sample photos from the model of RUN, with their bits/dim, a "
            "zip in the Cityscapes layout, and content transfer for flows. Binds to 127.0.0.1 "
            "unless --host says otherwise; fetches nothing from the internet."
        ),
    )
    add_run_option(parser)
    parser.add_argument(
        "--labels", type=Path, default=None, metavar="DATA",
        help="a dataset in the Cityscapes layout whose val labels the page offers as starts",
    )  # fmt: skip
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; another address lets "
        "anyone on the network use the page)",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    add_threads_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fullglow.app.launch import launch

    if not 0 < args.port < 65536:
        raise UserInputError(f"--port must be 1..65535, got {args.port}")
    use_threads(args.threads)
    launch(load_run_from_args(args), args.labels, args.host, args.port)
    return 0
