"""`fullglow synth-data`: generate a street-scene dataset in the Cityscapes layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from fullglow.cli.args import add_quiet_option, image_size
from fullglow.data import synthesize_dataset


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth-data",
        help="generate procedural street scenes (photos + labels) in the Cityscapes layout",
        description=(
            "Generate street scenes seen from a car (road, sidewalks, buildings, vegetation, "
            "poles, signs, traffic lights, cars, trucks, buses, people) with their label ids, "
            "colour labels and instance ids, written as OUT/leftImg8bit/{train,val}/... and "
            "OUT/gtFine/{train,val}/... exactly like Cityscapes. Deterministic for a seed."
        ),
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to create (absent or empty)")
    parser.add_argument("--n-train", type=int, default=200, metavar="N", help="training frames")
    parser.add_argument("--n-val", type=int, default=50, metavar="M", help="validation frames")
    parser.add_argument(
        "--size", type=image_size, default=(256, 512), metavar="HxW",
        help="frame size (default 256x512, Cityscapes' 1:2 aspect)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it exists and is not empty"
    )
    add_quiet_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    synthesize_dataset(
        args.out,
        n_train=args.n_train,
        n_val=args.n_val,
        size=args.size,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    return 0
