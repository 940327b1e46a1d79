"""`fullglow transfer`: the content of a photo under another segmentation (paper, section 5.4)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import add_threads_option
from fullglow.cli.commands.sample import load_run_from_args
from fullglow.synthesis.transfer import transfer_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transfer",
        help="content transfer: a photo's content decoded under a new label map",
        description=(
            "Encode the content photo under its own label with a trained flow and decode the "
            "latents under the structure label (paper, section 5.4). Labels may be label-id "
            "images (*_gtFine_labelIds.png) or official colour images; an *_instanceIds.png "
            "beside them gives the boundaries. Inputs are resized to the model's size."
        ),
    )
    parser.add_argument("--run", type=Path, required=True, help="run or saved model folder")
    parser.add_argument("--content-photo", type=Path, required=True, help="photo with the content")
    parser.add_argument("--content-label", type=Path, required=True, help="that photo's label")
    parser.add_argument("--structure-label", type=Path, required=True, help="the new label")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument(
        "--scale", type=float, default=1.0,
        help="multiply the latents by this before decoding (default 1: the exact transfer; "
        "0.7 keeps a briefly trained model's decoding from diverging)",
    )  # fmt: skip
    parser.add_argument(
        "--figure", type=Path, default=None, metavar="PNG",
        help="also write the paper's Figure 3 row: content, structure, result and, when the "
        "structure label has its photo in a Cityscapes layout, that photo",
    )  # fmt: skip
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    add_threads_option(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = transfer_files(
        load_run_from_args(args),
        args.content_photo,
        args.content_label,
        args.structure_label,
        args.out,
        overwrite=args.overwrite,
        scale=args.scale,
        figure=args.figure,
    )
    figure = "" if args.figure is None else f" and {args.figure}"
    sys.stdout.write(f"wrote {out}{figure}\n")
    return 0
