"""`fullglow import-pix2pix`: pix2pix's aligned Cityscapes (photo | JPEG label) as the official
layout, with class ids."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.data.palette_snap import SnapSettings
from fullglow.data.pix2pix_import import SUMMARY_FILE, import_aligned_pairs


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = SnapSettings()
    parser = subparsers.add_parser(
        "import-pix2pix",
        help="import pix2pix's aligned Cityscapes pairs as the Cityscapes layout, with class ids",
        description=(
            "Read SRC/{train,val}/*.jpg, each a photo and a Cityscapes colour label side by side "
            "(the cityscapes download of pix2pix, CycleGAN and BicycleGAN), snap every label "
            "pixel to the official palette, clean up the unreliable snaps along class edges, "
            "and write OUT/leftImg8bit/... and OUT/gtFine/... (labelIds, color) like Cityscapes, "
            f"with a summary of the label noise in OUT/{SUMMARY_FILE}. All or nothing."
        ),
    )
    parser.add_argument("source", type=Path, metavar="SRC", help="aligned folder (train/, val/)")
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to create (absent or empty)")
    parser.add_argument(
        "--direction", choices=("AtoB", "BtoA"), default="BtoA",
        help="which half is the label: BtoA (default, pix2pix's cityscapes) = the right half, "
        "AtoB = the left half",
    )  # fmt: skip
    parser.add_argument(
        "--luma-weight", type=float, default=defaults.luma_weight,
        help=f"weight of luma in the snapping distance (default {defaults.luma_weight:g})",
    )  # fmt: skip
    parser.add_argument(
        "--threshold", type=float, default=defaults.threshold,
        help="snapping distance above which the clean-up re-decides a pixel "
        f"(default {defaults.threshold:g})",
    )  # fmt: skip
    parser.add_argument(
        "--radius", type=int, default=defaults.radius,
        help=f"clean-up window (2r+1)^2; 0 snaps only (default {defaults.radius})",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it exists and is not empty"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = SnapSettings(args.luma_weight, args.threshold, args.radius)
    summary = import_aligned_pairs(
        args.source, args.out, direction=args.direction, settings=settings, overwrite=args.overwrite
    )
    frames = sum(noise.frames for noise in summary.splits)
    sys.stdout.write(
        f"wrote {frames} frames to {args.out} (label noise in {args.out / SUMMARY_FILE}):\n"
        f"{summary.table()}\n"
    )
    return 0
