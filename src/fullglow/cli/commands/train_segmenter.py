"""`fullglow train-segmenter`: train the PSPNet-style segmenter that scores synthesized photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch.utils.data import ConcatDataset

from fullglow.cli.args import add_quiet_option, add_threads_option, image_size, use_threads
from fullglow.data import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CLASS_BALANCE,
    DEFAULT_LR,
    DEFAULT_STEPS,
    train_segmenter,
)
from fullglow.synthesis.augment import check_complete_augment
from fullglow.training.distributed import resolve_device


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-segmenter",
        help="train the segmenter used to score synthesized photos",
        description=(
            "Train a PSPNet-style segmenter from scratch on the real photos of the train split of "
            "a Cityscapes-layout dataset, score it on the val split and write it to a directory "
            "(segmenter.safetensors + segmenter.json) that the evaluation loads."
        ),
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset root (Cityscapes layout)")
    parser.add_argument("--out", type=Path, required=True, help="segmenter directory to write")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], metavar="AUG",
        help="also train on the train split of this dataset (e.g. `fullglow augment`'s output); "
        "repeat for several; scoring stays on --data's val split",
    )  # fmt: skip
    parser.add_argument(
        "--extra-ratio", type=float, default=None, metavar="R",
        help="share of --extra samples in every batch (default: by dataset size)",
    )  # fmt: skip
    parser.add_argument(
        "--image-size", type=image_size, default=None, metavar="HxW",
        help="resize photos and labels to HxW (default: the dataset's own size)",
    )  # fmt: skip
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="optimisation steps (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=DEFAULT_LR,
        help="Adam's initial learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--class-balance", type=float, default=DEFAULT_CLASS_BALANCE,
        help="weigh each pixel's loss by its class frequency to this negative power, 0 for plain "
        "cross-entropy (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--width", type=int, default=SegmenterConfig.width,
        help="channels of the first stage (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    add_threads_option(parser)
    add_quiet_option(parser)
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    use_threads(args.threads)
    device = resolve_device(args.device)
    train = CityscapesDataset(args.data, split="train", image_size=args.image_size, flip=True)
    val = CityscapesDataset(args.data, split="val", image_size=args.image_size)
    size = args.image_size or tuple(train[0].photo.shape[-2:])
    extra = _extra_datasets(args.extra, size)
    if args.extra_ratio is not None and extra is None:
        raise UserInputError("--extra-ratio needs --extra AUG")
    config = SegmenterConfig(width=args.width, image_size=size)
    report = train_segmenter(
        train, config, args.steps, args.batch_size, args.lr, device, args.seed, args.out, val,
        class_balance=args.class_balance, extra_dataset=extra, extra_ratio=args.extra_ratio,
        progress=not args.quiet,
    )  # fmt: skip
    mixed = "" if extra is None else f", {len(extra)} extra photos"
    sys.stdout.write(
        f"segmenter written to {report.path} ({report.steps} steps, {report.seconds:.0f} s, "
        f"final loss {report.final_loss:.3f}{mixed})\n"
        f"val, {len(val)} real photos: {report.val_scores.summary()}\n"
    )
    return 0


def _extra_datasets(roots: list[Path], size: tuple[int, int]) -> ConcatDataset | None:
    """The train splits of the `--extra` datasets at the segmenter's size, together."""
    if not roots:
        return None
    for root in roots:
        check_complete_augment(root)
    return ConcatDataset(
        [CityscapesDataset(root, split="train", image_size=size, flip=True) for root in roots]
    )
