"""`fullglow evaluate`: conditional BPD and segmentation scores of a run (paper, Tables 1 and 2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fullglow.cli.args import image_size, use_threads
from fullglow.cli.commands.sample import add_model_options, add_run_option, add_sampling_options
from fullglow.data.cityscapes import CityscapesDataset
from fullglow.errors import UserInputError
from fullglow.evaluation.evaluate import (
    EVAL_FOLDER,
    METRICS_FILE,
    EvaluationSettings,
    evaluate_run,
    parse_temperatures,
    prepare_segmenter,
    score_real_photos,
    score_saved_samples,
)
from fullglow.evaluation.tables import (
    METRICS,
    ceiling_cells,
    describe,
    markdown,
    percent,
    shown_temperature,
    table1,
    table2,
)
from fullglow.synthesis.generation import PAPER_TEMPERATURES
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training.distributed import resolve_device


def add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """`--data`, `--split`, `--segmenter`, `--rounds`, `--bpd-draws`, `--figure-rows`,
    `--denoise-sigma`, `--guidance`."""
    parser.add_argument("--data", type=Path, required=True, help="dataset root (Cityscapes layout)")
    parser.add_argument("--split", default="val", help="split to evaluate on (default val)")
    parser.add_argument(
        "--segmenter", type=Path, required=True,
        help="segmenter folder (fullglow train-segmenter), or a torch.export .pt2 or "
        "TorchScript file returning logits",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="sampling rounds (default 3)")
    parser.add_argument(
        "--bpd-draws", type=int, default=4,
        help="dequantization noise draws averaged per photo for the BPD (default 4)",
    )  # fmt: skip
    parser.add_argument(
        "--figure-rows", type=int, default=4,
        help="labels shown in the samples figure (default 4; at most the batch size; 0: none)",
    )  # fmt: skip
    add_sampling_options(parser)


def settings_from_args(
    args: argparse.Namespace, temperatures: tuple[float, ...]
) -> EvaluationSettings:
    return EvaluationSettings(
        temperatures=temperatures,
        rounds=args.rounds,
        batch_size=args.batch_size,
        seed=args.seed,
        bpd_draws=args.bpd_draws,
        num_workers=args.num_workers,
        figure_rows=args.figure_rows,
        progress=not args.quiet,
        denoise_sigma=args.denoise_sigma,
        guidance=args.guidance,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="conditional BPD and segmentation scores of a run (the paper's Tables 1 and 2)",
        description=(
            "Evaluate a run on a split: exact conditional bits per dimension (dequantization "
            "noise averaged) and, for each temperature, the segmenter's mean pixel accuracy, "
            "mean class accuracy and mean class IoU on the synthesized photos, mean +- std over "
            "rounds, with the real photos' scores as the ceiling. Writes RUN/eval/metrics.json, "
            "table1.md, table2.md and samples.png (the first labels' samples at each "
            "temperature). With --samples instead of --run, scores photos already "
            "written by `fullglow sample` (or any tool using the Cityscapes layout); with "
            "--ground-truth-only, scores the real photos alone (the ceiling), without a model."
        ),
    )
    add_run_option(parser, required=False)
    add_model_options(parser)
    parser.add_argument(
        "--samples", type=Path, default=None, metavar="DIR",
        help="score the round_k folders of DIR (from fullglow sample) instead of sampling a run",
    )  # fmt: skip
    parser.add_argument(
        "--ground-truth-only", action="store_true",
        help="score the real photos of the split alone (the ceiling row), without a model",
    )  # fmt: skip
    add_evaluation_options(parser)
    parser.add_argument(
        "--temperatures", default=",".join(f"{t:.1f}" for t in PAPER_TEMPERATURES),
        help="comma-separated temperatures (default 0.0,0.1,...,1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--image-size", type=image_size, default=None, metavar="HxW",
        help="with --samples or --ground-truth-only: resize the labels (and photos) to HxW "
        "(default: the files' size); a run is always evaluated at its own size",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sources = [args.run is not None, args.samples is not None, args.ground_truth_only]
    if sum(sources) != 1:
        raise UserInputError("give exactly one of --run RUN, --samples DIR and --ground-truth-only")
    if args.run is not None and args.image_size is not None:
        raise UserInputError(
            "--image-size does not apply to --run: a run is evaluated at the size it generates "
            "(its image_size); to score at another size, train at it, or sample the run and "
            "score the photos (fullglow evaluate --samples DIR --image-size HxW)"
        )
    use_threads(args.threads)
    if args.samples is not None:
        return _score_samples(args)
    if args.ground_truth_only:
        return _score_ground_truth(args)
    settings = settings_from_args(args, parse_temperatures(args.temperatures))
    report = evaluate_run(
        args.run, args.data, args.segmenter, args.split, settings,
        resolve_device(args.device), args.checkpoint,
    )  # fmt: skip
    sys.stdout.write(
        f"{describe(report)}\n\n{table1([report], shown_temperature(report))}\n"
        f"{table2(report)}\n"
        f"written to {Path(report.run) / EVAL_FOLDER / METRICS_FILE}\n"
    )
    return 0


def _score_samples(args: argparse.Namespace) -> int:
    labels = CityscapesDataset(args.data, args.split, args.image_size, require_photos=False)
    if len(labels) == 0:
        raise UserInputError(f"{args.data}: split {args.split!r} holds no labels")
    size = args.image_size or tuple(labels[0].train_ids.shape)
    segmenter = prepare_segmenter(args.segmenter, size, resolve_device(args.device))
    result = score_saved_samples(
        args.samples, labels, segmenter.network, args.batch_size, args.num_workers,
        progress=not args.quiet,
    )  # fmt: skip
    row = [str(args.samples)] + [percent(result.stat(name)) for name in METRICS]
    sys.stdout.write(
        f"{len(labels)} {args.split} labels, {len(result.rounds)} round(s):\n\n"
        + markdown(["Samples", "Pixel acc.", "Class acc.", "Class IoU"], [row])
    )
    return 0


def _score_ground_truth(args: argparse.Namespace) -> int:
    if args.image_size is None:
        raise UserInputError(
            "--ground-truth-only needs --image-size HxW, the size to segment the real photos at"
        )
    dataset = open_dataset_split(args.data, args.split, args.image_size)
    segmenter = prepare_segmenter(args.segmenter, args.image_size, resolve_device(args.device))
    scores = score_real_photos(segmenter.network, dataset, settings_from_args(args, ()))
    height, width = args.image_size
    warning = "" if scores.warning is None else f"\nwarning: {scores.warning}\n"
    sys.stdout.write(
        f"{len(dataset)} {args.split} photos of {args.data} at {height}x{width}, segmenter "
        f"{segmenter.path}:\n\n"
        + markdown(
            ["Photos", "Pixel acc.", "Class acc.", "Class IoU"],
            [["Real photos", *ceiling_cells(scores)]],
        )
        + warning
    )
    return 0
