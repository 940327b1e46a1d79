"""`fullglow augment`: a generated training set in the Cityscapes layout, labels beside photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.commands.sample import (
    add_generation_options,
    add_model_options,
    add_run_option,
    add_sampling_options,
    load_run_from_args,
    warn_about_sampling_options,
)
from fullglow.segmenter.loading import load_segmenter
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.generation import model_device
from fullglow.synthesis.selection import SELECTION_RULES
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
    parser.add_argument(
        "--per-label", type=int, default=1, help="candidates generated per label (default 1)"
    )
    parser.add_argument(
        "--select", choices=SELECTION_RULES, default="all",
        help="which candidates to keep: all, the most likely (flows) or those a judge segments "
        "best (--judge); every candidate's scores go to OUT/scores.jsonl (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--keep", type=int, default=None,
        help="candidates kept per label (default: all of them for --select all, else 1)",
    )  # fmt: skip
    parser.add_argument(
        "--judge", type=Path, default=None,
        help="segmenter (directory, .pt2 or TorchScript) whose mean IoU against the label scores "
        "each candidate",
    )  # fmt: skip
    add_sampling_options(parser)
    add_generation_options(parser, "output dataset root (new or empty)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_run_from_args(args)
    warn_about_sampling_options(loaded, args)
    labels = open_dataset_split(args.labels, args.split, loaded.image_size, require_photos=False)
    judge = (
        None if args.judge is None else load_segmenter(args.judge).to(model_device(loaded.model))
    )
    keep = args.keep if args.keep is not None or args.select == "all" else 1
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
        select=args.select,
        keep=keep,
        judge=judge,
        progress=not args.quiet,
        denoise_sigma=args.denoise_sigma,
        guidance=args.guidance,
    )
    diverged = f"; {summary.diverged} diverged" if summary.diverged else ""
    sys.stdout.write(
        f"kept {summary.kept} of {summary.n_labels * summary.per_label} candidates with their "
        f"labels in {summary.out_dir} (split {summary.split}, {summary.seconds:.0f} s, "
        f"{summary.candidates_per_second:.1f} candidates/s{diverged}; scores in "
        f"{summary.out_dir / 'scores.jsonl'})\n"
    )
    return 0
