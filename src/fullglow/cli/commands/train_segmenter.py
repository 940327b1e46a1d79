"""`fullglow train-segmenter`: train the PSPNet-style segmenter that scores synthesized photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import add_quiet_option, add_threads_option, image_size, use_threads
from fullglow.data import CityscapesDataset
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CLASS_BALANCE,
    DEFAULT_LR,
    DEFAULT_STEPS,
    train_segmenter,
)
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
    config = SegmenterConfig(width=args.width, image_size=size)
    report = train_segmenter(
        train, config, args.steps, args.batch_size, args.lr, device, args.seed, args.out, val,
        class_balance=args.class_balance, progress=not args.quiet,
    )  # fmt: skip
    sys.stdout.write(
        f"segmenter written to {report.path} ({report.steps} steps, {report.seconds:.0f} s, "
        f"final loss {report.final_loss:.3f})\n"
        f"val, {len(val)} real photos: {report.val_scores.summary()}\n"
    )
    return 0
