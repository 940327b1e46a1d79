"""`fullglow study augmentation`: does a generator's synthetic data make a segmenter better?"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import image_size
from fullglow.errors import UserInputError
from fullglow.study import StudyConfig, run_study

DEFAULTS = StudyConfig()


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _run_pair(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"--run takes NAME=DIR, got {text!r}")
    return name, folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("study", help="measured studies (augmentation)")
    studies = parser.add_subparsers(dest="study", required=True)
    sub = studies.add_parser(
        "augmentation",
        help="train segmenters on real, real + synthetic and real + more real data, and compare",
        description=(
            "Split a dataset's train frames into a real set R and a label pool U, train each "
            "generator on R (equal time each), synthesize photos for U's labels under each "
            "selection rule, train segmenters (SEEDS seeds) on R alone, R + each synthetic set "
            "and R + U's real photos (the oracle), score them on the val split and write "
            "OUT/results.json, table.md and report.html. Re-running resumes."
        ),
    )
    sub.add_argument("--data", type=Path, default=None, help="dataset (default: built-in scenes)")
    sub.add_argument("--out", type=Path, required=True, help="study folder (new, or to resume)")
    sub.add_argument("--real", type=int, default=DEFAULTS.real, help="frames in R (%(default)s)")
    sub.add_argument("--pool", type=int, default=DEFAULTS.pool, help="labels in U (%(default)s)")
    sub.add_argument(
        "--val",
        type=int,
        default=DEFAULTS.val,
        help="val frames of the built-in data (%(default)s)",
    )
    sub.add_argument("--seeds", type=int, default=DEFAULTS.seeds, help="(default %(default)s)")
    sub.add_argument(
        "--models", type=_names, default=",".join(DEFAULTS.models),
        help="generators trained on R (default %(default)s)",
    )  # fmt: skip
    sub.add_argument(
        "--run", type=_run_pair, action="append", default=[], metavar="NAME=DIR",
        help="also a generator trained elsewhere (on R only); repeatable",
    )  # fmt: skip
    sub.add_argument(
        "--select", type=_names, default=",".join(DEFAULTS.select),
        help="selection rules (all, likelihood, agreement; default %(default)s)",
    )  # fmt: skip
    sub.add_argument("--per-label", type=int, default=DEFAULTS.per_label)
    sub.add_argument("--keep", type=int, default=DEFAULTS.keep)
    sub.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
    sub.add_argument(
        "--minutes", type=float, default=DEFAULTS.minutes,
        help="budget of this call (default %(default)s); the plan and stage times are logged",
    )  # fmt: skip
    sub.add_argument(
        "--generator-share", type=float, default=DEFAULTS.generator_share,
        help="part of --minutes training the generators, equal time each (default %(default)s)",
    )  # fmt: skip
    sub.add_argument(
        "--overwrite", action="store_true",
        help="replace --out if it exists (else only a study of the same settings is resumed)",
    )  # fmt: skip
    sub.add_argument("--segmenter-steps", type=int, default=DEFAULTS.segmenter_steps)
    sub.add_argument("--generator-steps", type=int, default=DEFAULTS.generator_steps)
    sub.add_argument("--extra-ratio", type=float, default=None)
    sub.add_argument(
        "--size", type=image_size, default="{}x{}".format(*DEFAULTS.image_size), metavar="HxW"
    )
    sub.add_argument("--preset", default=DEFAULTS.preset)
    sub.add_argument("--device", default=DEFAULTS.device)
    sub.add_argument("--threads", type=int, default=None)
    sub.add_argument("--seed", type=int, default=DEFAULTS.seed)
    sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.data is not None and not args.data.is_dir():
        raise UserInputError(f"--data {args.data}: no such folder")
    config = StudyConfig(
        data=None if args.data is None else str(args.data), image_size=args.size,
        real=args.real, pool=args.pool, val=args.val, seeds=args.seeds, models=args.models,
        runs=tuple(args.run), select=args.select, per_label=args.per_label, keep=args.keep,
        temperature=args.temperature, minutes=args.minutes,
        generator_share=args.generator_share, segmenter_steps=args.segmenter_steps,
        generator_steps=args.generator_steps, extra_ratio=args.extra_ratio, preset=args.preset,
        device=args.device, threads=args.threads, seed=args.seed,
    )  # fmt: skip
    try:
        result = run_study(config, args.out, overwrite=args.overwrite)
    except KeyboardInterrupt:
        sys.stderr.write(
            f"fullglow study: interrupted; finished stages are kept in {args.out}. "
            "Run the same command again to resume.\n"
        )
        return 130
    sys.stdout.write((args.out / "table.md").read_text())
    sys.stdout.write(f"report: {args.out / 'report.html'} ({result.seconds:.0f} s this run)\n")
    return 0
