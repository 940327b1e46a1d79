"""`fullglow compare`: the paper's Table 1 across several runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import use_threads
from fullglow.cli.commands.evaluate import add_evaluation_options, settings_from_args
from fullglow.cli.commands.sample import add_model_options
from fullglow.evaluation.compare import compare_runs
from fullglow.files import atomic_write_text
from fullglow.synthesis.images import atomic_png
from fullglow.training.distributed import resolve_device


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="one Table 1 across runs (BPD and segmentation scores)",
        description=(
            "Score every run with the same data, segmenter, seed and rounds and print the "
            "paper's Table 1 (one row per model at --temperature, plus the real photos' "
            "ceiling). A run's RUN/eval/metrics.json is reused when it matches (same weights, "
            "segmenter, data, split, seed and rounds); otherwise the run is evaluated and its "
            "RUN/eval/ rewritten."
        ),
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run or model folders")
    add_evaluation_options(parser)
    parser.add_argument(
        "--temperature", type=float, default=1.0,
        help="temperature of the flows' rows (default 1.0, as the paper's Table 1)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    parser.add_argument(
        "--figure", type=Path, default=None, metavar="PNG",
        help="also write the paper's Figure 2: label, real photo and each model's sample of the "
        "first --figure-rows labels",
    )  # fmt: skip
    parser.add_argument(
        "--figure-temperature", type=float, default=0.7,
        help="temperature of the flows' samples in the figure (default 0.7, as the paper's)",
    )  # fmt: skip
    add_model_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    use_threads(args.threads)
    comparison = compare_runs(
        args.runs,
        args.data,
        args.segmenter,
        split=args.split,
        temperature=args.temperature,
        settings=settings_from_args(args, (args.temperature,)),
        device=resolve_device(args.device),
        checkpoint=args.checkpoint,
        figure_rows=args.figure_rows if args.figure is not None else 0,
        figure_temperature=args.figure_temperature,
    )
    table = comparison.table()
    if args.out is not None:
        atomic_write_text(args.out, table)
    if comparison.figure is not None:
        atomic_png(args.figure, comparison.figure)
    sys.stdout.write(table)
    if args.figure is not None:
        sys.stdout.write(f"figure written to {args.figure}\n")
    return 0
