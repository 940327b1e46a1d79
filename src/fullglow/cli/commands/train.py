"""`fullglow train`: parse the options into a `TrainConfig` and call `fullglow.training.train`.

Every field of every registered model's config is also an option (`--n-flows 8`,
`--hidden-channels 256`, `--conditioning '{"coupling_channels": 64}'`); the same command runs alone
or under `torchrun --nproc-per-node N -m fullglow train ...`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from fullglow.cli.args import add_quiet_option, image_size, use_threads
from fullglow.config_checks import ConfigFieldError
from fullglow.errors import UserInputError
from fullglow.models.registry import MODELS
from fullglow.training import TrainConfig, TrainingError, train, trainable_models
from fullglow.training.initial import model_config

# Model fields set through other options: --image-size, --boundary, and the training --lr.
_NOT_MODEL_OPTIONS = {"image_size", "side_channels", "lr"}
_OPTION_PREFIX = "model_option__"


def _model_option_value(text: str) -> Any:
    """A JSON value (`8`, `1e-4`, `[8, 8, 16]`, `{"coupling_channels": 64}`), a comma list
    (`8,8,16`) or a bare string (`lsgan`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if "," in text:
            return [_model_option_value(part.strip()) for part in text.split(",")]
        return text


def _model_option_names() -> dict[str, list[str]]:
    """`{field name: [models that have it]}` over every registered model's config."""
    names: dict[str, list[str]] = {}
    for model in trainable_models():
        for f in dataclasses.fields(MODELS[model].config_class):
            if f.name not in _NOT_MODEL_OPTIONS:
                names.setdefault(f.name, []).append(model)
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = TrainConfig(steps=1)
    parser = subparsers.add_parser(
        "train",
        help="train a model (resumable, memory-saving, multi-GPU with torchrun)",
        description=(
            "Train a model on a Cityscapes-layout or paired-folder dataset. RUN receives "
            "train_config.json, checkpoints/, metrics.jsonl and samples/. Interrupt with Ctrl-C "
            "or SIGTERM to save a checkpoint and stop; --resume continues exactly."
        ),
    )
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder")
    run.add_argument(
        "--resume", action="store_true", help="continue the run in RUN from its newest checkpoint"
    )
    length = run.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="optimisation steps in total")
    length.add_argument("--epochs", type=int, help="passes over the training split")
    run.add_argument(
        "--device", default=defaults.device, help="cpu, cuda, cuda:N or auto (default: auto)"
    )
    run.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on CUDA")
    run.add_argument(
        "--threads", type=int, default=None,
        help="CPU threads for torch (default: torch's, one per core; on a machine busy with "
        "other work, fewer threads than cores trains much faster)",
    )  # fmt: skip
    add_quiet_option(run)
    run.add_argument(
        "--dtype", choices=("float32", "float64"), default=defaults.dtype,
        help="parameter and data precision (default: %(default)s)",
    )  # fmt: skip
    run.add_argument(
        "--deterministic", action="store_true", help="torch.use_deterministic_algorithms(True)"
    )
    run.add_argument("--seed", type=int, default=defaults.seed, help="(default: %(default)s)")
    run.add_argument(
        "--num-workers", type=int, default=defaults.num_workers,
        help="data loader processes (default: %(default)s)",
    )  # fmt: skip
    run.add_argument(
        "--time-budget-minutes",
        type=float,
        default=None,
        help="stop cleanly, with a checkpoint, after this many minutes",
    )

    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, required=True, help="dataset root")
    data.add_argument("--dataset", choices=("cityscapes", "paired"), default=defaults.dataset)
    data.add_argument(
        "--image-size", type=image_size, default=None, metavar="HxW",
        help="train at HxW (default: the preset's size)",
    )  # fmt: skip
    data.add_argument("--direction", choices=("AtoB", "BtoA"), default=defaults.direction)
    data.add_argument(
        "--cityscapes-palette", action="store_true",
        help="paired labels are Cityscapes colour labels (e.g. pix2pix's JPEGs): snap each pixel "
        "to the nearest class colour",
    )  # fmt: skip
    data.add_argument(
        "--boundary", action="store_true", help="instance boundaries as side information"
    )
    data.add_argument("--no-flip", action="store_true", help="no random horizontal flips")

    optim = parser.add_argument_group("optimisation")
    optim.add_argument(
        "--batch-size", type=int, default=defaults.batch_size,
        help="global batch size, split over the processes",
    )  # fmt: skip
    optim.add_argument(
        "--lr", type=float, default=None,
        help="Adam's learning rate (default: 1e-4 for the flows, the model's for pix2pix)",
    )  # fmt: skip
    optim.add_argument("--warmup", type=int, default=defaults.warmup, help="warm-up steps")
    optim.add_argument("--decay", choices=("none", "linear"), default=defaults.decay)
    optim.add_argument(
        "--decay-start", type=float, default=defaults.decay_start,
        help="fraction of the steps after which the linear decay starts",
    )  # fmt: skip
    optim.add_argument("--grad-clip", type=float, default=None, help="max global gradient norm")
    optim.add_argument(
        "--ema", type=float, default=None, metavar="DECAY",
        help="keep an exponential moving average of the weights (e.g. 0.999); sampling and "
        "evaluation use it",
    )  # fmt: skip
    data.add_argument(
        "--noise-sigma", type=float, default=None, metavar="SIGMA",
        help="train on photos with Gaussian noise of this sigma instead of uniform "
        "dequantization (e.g. 0.05); denoise its samples with the same sigma",
    )  # fmt: skip
    data.add_argument(
        "--label-dropout", type=float, default=defaults.label_dropout, metavar="P",
        help="train on the null (all-unlabeled) label with probability P, for guided sampling",
    )  # fmt: skip
    optim.add_argument(
        "--memory-saving", action="store_true",
        help="invertible backprop: memory that does not grow with the number of flow steps",
    )  # fmt: skip
    optim.add_argument(
        "--bf16", action="store_true",
        help="coupling and conditioning networks in bfloat16 (log-dets, actnorm and 1x1 "
        "convolutions stay float32); about 2x faster on CPUs with AVX512-BF16",
    )  # fmt: skip
    optim.add_argument(
        "--max-nonfinite", type=int, default=defaults.max_nonfinite,
        help="stop after this many consecutive non-finite steps",
    )  # fmt: skip

    monitor = parser.add_argument_group("monitoring")
    for name, what in (
        ("val_every", "steps between validations, 0 for none"),
        ("val_batches", "batches of the val split to validate on"),
        ("sample_every", "steps between sample grids, 0 for none"),
        ("n_samples", "rows of a sample grid"),
        ("checkpoint_every", "steps between checkpoints, 0 for none"),
        ("keep_last", "last-*.pt checkpoints to keep"),
        ("log_every", "steps between metrics.jsonl records"),
    ):
        monitor.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name),
            help=f"{what} (default: %(default)s)",
        )  # fmt: skip

    model = parser.add_argument_group("model (options override the preset)")
    model.add_argument("--model", choices=trainable_models(), default=defaults.model)
    model.add_argument("--preset", default=None, help="model preset (default: the model's)")
    for name, owners in sorted(_model_option_names().items()):
        model.add_argument(
            f"--{name.replace('_', '-')}",
            dest=_OPTION_PREFIX + name,
            type=_model_option_value,
            default=None,
            metavar="VALUE",
            help=f"({', '.join(owners)})",
        )
    parser.set_defaults(func=run_command)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The `TrainConfig` the parsed options describe (options are named after its fields)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in vars(args).items() if key in fields}
    values["data"] = str(args.data)
    values["flip"] = not args.no_flip
    values["model_options"] = {
        key[len(_OPTION_PREFIX) :]: value
        for key, value in vars(args).items()
        if key.startswith(_OPTION_PREFIX) and value is not None
    }
    return TrainConfig(**values)


def checked_config(args: argparse.Namespace) -> TrainConfig:
    """`config_from_args`, with the model's config checked too (before the run folder is
    touched); a bad value is reported under the option that set it (`--hidden-channels ...`)."""
    try:
        config = config_from_args(args)
        model_config(config)
    except ConfigFieldError as err:
        if err.field not in vars(args) and _OPTION_PREFIX + err.field not in vars(args):
            raise
        raise UserInputError(f"--{err.field.replace('_', '-')} {err.problem}") from None
    return config


def run_command(args: argparse.Namespace) -> int:
    config = checked_config(args)
    if args.threads is not None:
        use_threads(args.threads)
    try:
        result = train(config, args.out, resume=args.resume, progress=not args.quiet)
    except TrainingError as err:
        sys.stderr.write(f"fullglow train: {err}\n")
        return 1
    best = (
        f"best {result.metric_name} {result.best_val:.4f}; " if result.best_val is not None else ""
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary for all processes
        sys.stdout.write(
            f"{result.stopped} after {result.steps} steps; {best}checkpoints in "
            f"{result.run_dir / 'checkpoints'}\n"
        )
    return 128 + result.signal if result.signal is not None else 0
