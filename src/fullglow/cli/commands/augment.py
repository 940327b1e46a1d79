"""`fullglow augment`: a generated training set in the Cityscapes layout, labels beside photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.commands.sample import (
    add_generation_options,
    add_model_options,
    add_run_option,
    load_run_from_args,
)
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.splits import open_dataset_split


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "augment",
        help="generate a photo dataset from labels (Cityscapes layout, labels copied beside)",
        description=(
            "Generate PER_LABEL photos for every label of a split of a labels folder "
            "(Cityscapes layout; photos are not needed) and write a new dataset at the model's "
            "size: OUT/leftImg8bit/SPLIT/{city}/{id}-s{k}_leftImg8bit.png with the labels "
            "(labelIds, color, instanceIds) beside them in OUT/gtFine/SPLIT/{city}/, ready for "
            "a segmentation trainer."
        ),
    )
    add_run_option(parser)
    add_model_options(parser)
    parser.add_argument("--labels", type=Path, required=True, help="labels root (gtFine/ inside)")
    parser.add_argument("--split", default="train", help="split of the labels (default train)")
    parser.add_argument("--per-label", type=int, default=1, help="photos per label (default 1)")
    add_generation_options(parser, "output dataset root (new or empty)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_run_from_args(args)
    labels = open_dataset_split(args.labels, args.split, loaded.image_size, require_photos=False)
    summary = augment_dataset(
        loaded.model,
        labels,
        args.out,
        per_label=args.per_label,
        temperature=args.temperature if loaded.model.has_likelihood else None,
        batch_size=args.batch_size,
        seed=args.seed,
        num_workers=args.num_workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    skipped = f"; left out {summary.skipped} that diverged" if summary.skipped else ""
    sys.stdout.write(
        f"wrote {summary.n_images} photos with their labels to {summary.out_dir} "
        f"(split {summary.split}, {summary.seconds:.0f} s{skipped})\n"
    )
    return 0
