"""`fullglow demo`: the whole pipeline on generated data, with a report (see `fullglow.demo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import add_quiet_option, add_threads_option, image_size
from fullglow.demo import DemoConfig, run_demo
from fullglow.demo.summary import summary_text

DEFAULTS = DemoConfig()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="generate data, train a small Full-Glow, evaluate it and write a report",
        description=(
            "Generate a small street-scene dataset, train the evaluator segmentation network and "
            "a small Full-Glow (and, with --baselines, Full-Glow with the paper's affine coupling "
            "and the small baselines), evaluate conditional BPD and segmentation scores at several "
            "temperatures against the same model untrained, and write OUT/report.html. Offline; "
            "about 10 minutes on a 2-core CPU. "
            "Re-running into the same folder resumes; Ctrl-C keeps what is done."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("fullglow-demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--minutes", type=float, default=DEFAULTS.minutes,
        help="time budget of this run in minutes; training takes what the rest leaves "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--size", type=image_size, default="{}x{}".format(*DEFAULTS.image_size), metavar="HxW",
        help="image size, sides divisible by 8 (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--device", default=DEFAULTS.device, help="cpu, cuda, cuda:N or auto (default: %(default)s)"
    )
    parser.add_argument(
        "--baselines", action="store_true",
        help="also train and evaluate Full-Glow with the paper's affine coupling beside the default "
        "one, and C-Glow v1/v2, Dual-Glow and pix2pix (give more --minutes)",
    )  # fmt: skip
    add_threads_option(parser)
    add_quiet_option(parser)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = DemoConfig(
        image_size=args.size,
        minutes=args.minutes,
        device=args.device,
        threads=args.threads,
        baselines=args.baselines,
        seed=args.seed,
    )
    try:
        result = run_demo(config, args.out, progress=not args.quiet)
    except KeyboardInterrupt:
        sys.stderr.write(
            f"fullglow demo: interrupted; finished stages are kept in {args.out} (partial report "
            f"{args.out / 'report.html'}). Run the same command again to resume.\n"
        )
        return 130
    sys.stdout.write(summary_text(result))
    return 0
