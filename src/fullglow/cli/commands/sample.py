"""`fullglow sample`: synthesize a photo for every label of a split, in the Cityscapes layout.

Also holds the options shared by the commands that load a trained model and generate with it
(`add_run_option`, `add_model_options`, `add_generation_options`, `load_run_from_args`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from fullglow.cli.args import add_quiet_option, add_threads_option, image_size, use_threads
from fullglow.errors import UserInputError
from fullglow.models.resize import at_image_size
from fullglow.synthesis.sampling import sample_split
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training.distributed import resolve_device
from fullglow.training.runs import LoadedRun, load_run, sampling_warnings

log = logging.getLogger(__name__)


def add_run_option(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--run RUN`."""
    parser.add_argument(
        "--run", type=Path, required=required, metavar="RUN",
        help="training run folder (fullglow train --out) or a saved model folder",
    )  # fmt: skip


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """`--checkpoint`, `--device`, `--batch-size`, `--seed`, `--num-workers`, `--threads`,
    `--quiet`."""
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best",
        help="which checkpoint of a training run (default: best)",
    )  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--batch-size", type=int, default=16, help="labels per model call")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling noise")
    parser.add_argument("--num-workers", type=int, default=0, help="data loader processes")
    add_threads_option(parser)
    add_quiet_option(parser)


def add_generation_options(parser: argparse.ArgumentParser, out_help: str) -> None:
    """`--temperature`, `--out`, `--overwrite`."""
    parser.add_argument(
        "--temperature", type=float, default=0.8,
        help="sampling temperature T of a flow (default 0.8; ignored by pix2pix)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help=out_help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")


def load_run_from_args(args: argparse.Namespace) -> LoadedRun:
    """The run of `--run`, `--checkpoint`, `--device`, with torch on `--threads` CPU threads."""
    use_threads(args.threads)
    return load_run(args.run, args.checkpoint, resolve_device(args.device))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="synthesize photos for every label of a split (Cityscapes layout)",
        description=(
            "Turn every label of a split into a photo with a trained model, ROUNDS times, and "
            "write OUT/round_k/leftImg8bit/SPLIT/{city}/{id}_leftImg8bit.png (k = 1..ROUNDS) at "
            "the model's size, so that any Cityscapes tool reads them. OUT is written at once "
            "(a temporary folder renamed at the end)."
        ),
    )
    add_run_option(parser)
    add_model_options(parser)
    parser.add_argument("--data", type=Path, required=True, help="dataset root (Cityscapes layout)")
    parser.add_argument("--split", default="val", help="split to sample (default val)")
    parser.add_argument("--rounds", type=int, default=1, help="samples per label (default 1)")
    parser.add_argument(
        "--image-size", type=image_size, default=None, metavar="HxW",
        help="generate at HxW instead of the model's size (models with pooled conditioning)",
    )  # fmt: skip
    add_sampling_options(parser)
    add_generation_options(parser, "output folder (new or empty)")
    parser.set_defaults(func=run)


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    """`--denoise-sigma` and `--guidance` (a flow's self-denoising step and guidance weight)."""
    parser.add_argument(
        "--denoise-sigma", type=float, default=None, metavar="SIGMA",
        help="denoise each sample with one score step (a model trained with --noise-sigma SIGMA)",
    )  # fmt: skip
    parser.add_argument(
        "--guidance", type=float, default=None, metavar="W",
        help="guided sampling with weight W against the null label (a model trained with "
        "--label-dropout); log p does not describe guided samples",
    )  # fmt: skip


def warn_about_sampling_options(loaded: LoadedRun, args: argparse.Namespace) -> None:
    """Log `sampling_warnings` for `--denoise-sigma` and `--guidance` of a loaded run."""
    for warning in sampling_warnings(loaded, args.denoise_sigma, args.guidance):
        log.warning("%s: %s", loaded.path, warning)


def run(args: argparse.Namespace) -> int:
    loaded = load_run_from_args(args)
    warn_about_sampling_options(loaded, args)
    if args.image_size is not None:
        try:
            loaded = dataclasses.replace(loaded, model=at_image_size(loaded.model, args.image_size))
        except ValueError as err:
            raise UserInputError(f"--image-size: {err}") from None
    dataset = open_dataset_split(args.data, args.split, loaded.image_size, require_photos=False)
    summary = sample_split(
        loaded.model,
        dataset,
        args.out,
        temperature=args.temperature if loaded.model.has_likelihood else None,
        rounds=args.rounds,
        batch_size=args.batch_size,
        seed=args.seed,
        num_workers=args.num_workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
        denoise_sigma=args.denoise_sigma,
        guidance=args.guidance,
    )
    diverged = (
        f", {summary.diverged} of them diverged (NaN written as 0)" if summary.diverged else ""
    )
    sys.stdout.write(
        f"wrote {summary.rounds} x {summary.n_images} photos to {summary.out_dir}{diverged} "
        f"({summary.images_per_second:.1f} images/s)\n"
    )
    return 0
