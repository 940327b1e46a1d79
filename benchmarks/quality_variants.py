"""Options for better photos than the paper's Full-Glow, side by side (issue 15).

Each variant trains Full-Glow (`demo` preset, the demo's data, batch size and learning rate) from
the same seed for at most `--max-steps` steps or `--minutes` of wall-clock time, whichever ends
first, then is measured on the demo's 32 val labels:

- val BPD: the exact conditional bits per dimension under uniform dequantization (one draw);
  for a noise-trained variant also under its training noise (`noise BPD`);
- mIoU at T = 0.6, 0.8 and 1.0: the demo's evaluator on the samples, mean and spread (population
  standard deviation) over `--rounds` rounds, denoised first for a noise-trained variant; the
  heading gives the evaluator's mIoU on the real val photos (the ceiling);
- diverged at each T: samples with a NaN or infinite value, over all rounds;
- transfers diverged: content transfer between the ordered pairs of the first `--pairs` val frames;
- parameters, the training steps reached and the training's wall-clock minutes.

The label-dropout runs are sampled twice: unguided, and guided with `w = 1.5` (their BPD is the
unguided model's: `log p` does not describe guided samples; their transfers are unguided).

`--seeds N` repeats the coupling variants (affine, the floors, additive) over seeds 0 .. N-1 (the
model's initialisation and data order; the data, evaluator and sampling noise stay the same), one
row per seed, then a summary over the seeds. The data and evaluator are made in `OUT` by
`coupling_stability.prepare_demo` (and shared with that benchmark); trained runs are reused, so a
rerun only measures (`--measure-only`: and trains nothing missing). `--figure PNG` draws the first
val labels' samples of `--figure-runs` side by side (the paper's configuration beside the others).

    python benchmarks/quality_variants.py --out /tmp/quality --minutes 30 --max-steps 1000 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coupling_stability import demo_run_config, prepare_demo, transfers_diverged
from fullglow.data import CityscapesDataset
from fullglow.demo.config import DemoConfig
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    score_real_photos,
    segmentation_scores,
)
from fullglow.evaluation.figures import model_column, real_columns
from fullglow.segmenter.loading import load_segmenter
from fullglow.synthesis.images import atomic_png
from fullglow.synthesis.sheet import compose_figure
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training import train
from fullglow.training.checkpoints import CheckpointStore, load_checkpoint
from fullglow.training.runs import load_run

TEMPERATURES = (0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Variant:
    """A run of the table: label, run folder name, model options and training options; `seeded`
    variants are repeated over `--seeds`; one row per `guidance` weight (None: unguided)."""

    label: str
    key: str
    model_options: dict[str, Any] = field(default_factory=dict)
    train_options: dict[str, Any] = field(default_factory=dict)
    seeded: bool = False
    guidance: tuple[float | None, ...] = (None,)

    @property
    def denoise_sigma(self) -> float | None:
        return self.train_options.get("noise_sigma")


VARIANTS = (
    Variant("paper (affine)", "affine", seeded=True),
    Variant("`scale_floor=0.05`", "floor", {"scale_floor": 0.05}, seeded=True),
    Variant("`scale_floor=0.2`", "floor0.2", {"scale_floor": 0.2}, seeded=True),
    Variant("`scale_floor=0.5`", "floor0.5", {"scale_floor": 0.5}, seeded=True),
    Variant("additive", "additive", {"coupling": "additive"}, seeded=True),
    Variant("pooled conditioning 4x8", "pooled", {"conditioning": {"pool_size": (4, 8)}}),
    Variant("EMA 0.99", "ema", train_options={"ema": 0.99}),
    Variant("noise 0.02 + denoise", "noise", train_options={"noise_sigma": 0.02}),
    Variant(
        "label dropout 0.1", "guided", train_options={"label_dropout": 0.1}, guidance=(None, 1.5)
    ),
    Variant(
        "floor 0.5 + label dropout 0.1",
        "guided-floor",
        {"scale_floor": 0.5},
        {"label_dropout": 0.1},
        guidance=(None, 1.5),
    ),
    Variant(
        "additive + pooled + EMA + noise",
        "combined",
        {"coupling": "additive", "conditioning": {"pool_size": (4, 8)}},
        {"ema": 0.99, "noise_sigma": 0.02},
    ),
    Variant(
        "floor 0.5 + pooled + EMA + noise",
        "combined-floor",
        {"scale_floor": 0.5, "conditioning": {"pool_size": (4, 8)}},
        {"ema": 0.99, "noise_sigma": 0.02},
    ),
)


TIME_FILE = "benchmark_train_seconds.txt"
"""The wall-clock seconds of a run's training, written in its folder by `_train`."""


def _train(
    variant: Variant,
    seed: int,
    run_dir: Path,
    data: Path,
    demo: DemoConfig,
    args: argparse.Namespace,
) -> None:
    if (run_dir / "checkpoints").is_dir():
        return
    # The paper's affine coupling without a floor under every variant that does not name its
    # coupling (the demo preset's own default has a floor).
    options = {"coupling": "affine", "scale_floor": 0.0, **variant.model_options}
    config = demo_run_config(
        demo, data, args.max_steps, seed, options,
        time_budget_minutes=args.minutes, checkpoint_every=0, **variant.train_options,
    )  # fmt: skip
    started = time.perf_counter()
    train(config, run_dir)
    (run_dir / TIME_FILE).write_text(f"{time.perf_counter() - started:.1f}\n")


@dataclass(frozen=True)
class Measurement:
    """One row of the table: a trained run measured, guided with `guidance` (None: unguided).

    `miou` and `miou_spread` hold the mean and spread over rounds per temperature (fractions),
    `diverged` the diverged samples per temperature over all rounds."""

    variant: Variant
    seed: int
    guidance: float | None
    bpd: float
    noise_bpd: float | None
    miou: tuple[float, ...]
    miou_spread: tuple[float, ...]
    diverged: tuple[int, ...]
    transfers: int
    parameters: int
    steps: int
    train_seconds: float | None

    @property
    def label(self) -> str:
        if self.guidance is None:
            return self.variant.label
        return f"{self.variant.label}, guidance w = {self.guidance}"


def _measure(
    variant: Variant,
    seed: int,
    run_dir: Path,
    data: Path,
    segmenter: torch.nn.Module,
    demo: DemoConfig,
    args: argparse.Namespace,
    guidance: float | None,
) -> Measurement:
    started = time.perf_counter()
    val = open_dataset_split(data, "val", demo.image_size)
    steps = load_checkpoint(CheckpointStore(run_dir, 1).latest())["step"]
    model = load_run(run_dir, "last").model
    sigma = variant.denoise_sigma
    bpd = conditional_bpd(model, val, batch_size=16, draws=1, progress=False).mean
    noise_bpd = (
        conditional_bpd(model, val, batch_size=16, draws=1, noise_sigma=sigma, progress=False).mean
        if sigma
        else None
    )
    settings = EvaluationSettings(
        temperatures=TEMPERATURES,
        rounds=args.rounds,
        batch_size=16,
        denoise_sigma=sigma,
        guidance=guidance,
        progress=False,
    )
    scores, _ = segmentation_scores(model, segmenter, val, settings)
    time_file = run_dir / TIME_FILE
    measurement = Measurement(
        variant=variant,
        seed=seed,
        guidance=guidance,
        bpd=bpd,
        noise_bpd=noise_bpd,
        miou=tuple(t.mean_iou.mean for t in scores),
        miou_spread=tuple(t.mean_iou.std for t in scores),
        diverged=tuple(t.diverged for t in scores),
        transfers=transfers_diverged(model, data, demo.image_size, args.pairs),
        parameters=sum(p.numel() for p in model.parameters()),
        steps=steps,
        train_seconds=float(time_file.read_text()) if time_file.is_file() else None,
    )
    sys.stderr.write(
        f"{variant.key} seed {seed}: measured in {time.perf_counter() - started:.0f} s\n"
    )
    return measurement


def _row(m: Measurement, pairs: int) -> str:
    noise = "—" if m.noise_bpd is None else f"{m.noise_bpd:.2f}"
    miou = " | ".join(
        f"{100 * mean:.1f} ± {100 * spread:.1f}"
        for mean, spread in zip(m.miou, m.miou_spread, strict=True)
    )
    minutes = "—" if m.train_seconds is None else f"{m.train_seconds / 60:.1f}"
    return (
        f"| {m.label} | {m.seed} | {m.bpd:.3f} | {noise} | {miou} | "
        f"{' / '.join(str(d) for d in m.diverged)} | {m.transfers} of {pairs * (pairs - 1)} | "
        f"{m.parameters / 1e6:.2f} M | {m.steps} | {minutes} |"
    )


def _mean_sd(values: list[float], digits: int) -> str:
    tensor = torch.tensor(values, dtype=torch.float64)
    return f"{tensor.mean():.{digits}f} ± {tensor.std(unbiased=False):.{digits}f}"


def _seed_summary(rows: list[Measurement], pairs: int, samples: int) -> str:
    """Per seeded variant: the mean ± spread over seeds of BPD and mIoU, the summed divergences."""
    lines = []
    for key in dict.fromkeys(m.variant.key for m in rows if m.variant.seeded):
        runs = [m for m in rows if m.variant.key == key and m.guidance is None]
        variant = runs[0].variant
        miou = " | ".join(
            _mean_sd([100 * m.miou[i] for m in runs], 1) for i in range(len(TEMPERATURES))
        )
        diverged = " / ".join(
            str(sum(m.diverged[i] for m in runs)) for i in range(len(TEMPERATURES))
        )
        lines.append(
            f"| {variant.label} | {len(runs)} | {_mean_sd([m.bpd for m in runs], 3)} | {miou} | "
            f"{diverged} of {len(runs) * samples} | "
            f"{sum(m.transfers for m in runs)} of {len(runs) * pairs * (pairs - 1)} |"
        )
    if not lines:
        return ""
    return (
        "\nOver seeds (mean ± spread of the seeds' values; divergences summed):\n\n"
        "| variant | seeds | val BPD | mIoU T = 0.6 | mIoU T = 0.8 | mIoU T = 1.0 | "
        "diverged T = 0.6 / 0.8 / 1.0 | transfers diverged |\n"
        "| :-- | --: | --: | --: | --: | --: | --: | --: |\n" + "\n".join(lines) + "\n"
    )


FIGURE_ROWS = 4
FIGURE_TEMPERATURES = (0.8, 1.0)


def _figure(out: Path, val: CityscapesDataset, runs: list[str]) -> np.ndarray:
    """Label, real photo, then each run's samples at `FIGURE_TEMPERATURES` (denoised for a run
    trained on noisy photos), the first batch exactly as the table's first round draws it."""
    by_key = {v.key: v for v in VARIANTS}
    columns = real_columns(val, FIGURE_ROWS)
    for name in runs:
        variant = by_key[name.rsplit("-seed", 1)[0]]
        run = load_run(out / "runs" / name, "last")
        for temperature in FIGURE_TEMPERATURES:
            columns.append(
                model_column(
                    run,
                    val,
                    FIGURE_ROWS,
                    temperature,
                    16,
                    0,
                    variant.label.replace("`", ""),
                    denoise_sigma=variant.denoise_sigma,
                )
            )
    return compose_figure(columns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for data, evaluator, runs")
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per run")
    parser.add_argument("--max-steps", type=int, default=400, help="training steps at most")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the coupling variants")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="val frames for the transfers")
    parser.add_argument(
        "--only", nargs="*", default=None, metavar="KEY",
        help=f"variants to run (default all: {', '.join(v.key for v in VARIANTS)})",
    )  # fmt: skip
    parser.add_argument(
        "--measure-only", action="store_true", help="measure the trained runs, train none"
    )
    parser.add_argument(
        "--figure", type=Path, default=None, metavar="PNG",
        help="also draw the first val labels' samples of the --figure-runs at T = 0.8 and 1.0",
    )  # fmt: skip
    parser.add_argument(
        "--figure-runs", nargs="+", default=["affine-seed0", "additive-seed0", "combined-seed0"],
        metavar="RUN", help="run folders (under OUT/runs) of the figure's columns",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    demo = DemoConfig()
    data = prepare_demo(args.out, demo)
    segmenter = load_segmenter(args.out / "segmenter")
    val = open_dataset_split(data, "val", demo.image_size)
    ceiling = score_real_photos(segmenter, val, EvaluationSettings(progress=False)).mean_iou
    if args.figure is not None:
        atomic_png(args.figure, _figure(args.out, val, args.figure_runs))
    rows = []
    for variant in VARIANTS:
        if args.only is not None and variant.key not in args.only:
            continue
        for seed in range(args.seeds if variant.seeded else 1):
            run_dir = args.out / "runs" / f"{variant.key}-seed{seed}"
            if args.measure_only and not (run_dir / TIME_FILE).is_file():
                continue
            _train(variant, seed, run_dir, data, demo, args)
            for guidance in variant.guidance:
                rows.append(_measure(variant, seed, run_dir, data, segmenter, demo, args, guidance))
    budget = (
        "the runs as trained (steps and minutes in the columns)"
        if args.measure_only
        else f"at most {args.max_steps} steps or {args.minutes} min per run"
    )
    sys.stdout.write(
        f"Full-Glow `demo` preset, {budget}, "
        f"batch {demo.batch_size}, lr {demo.lr}; {demo.n_val} val labels x {args.rounds} rounds; "
        f"the evaluator's mIoU on the real val photos (the ceiling): {100 * ceiling:.1f} %\n\n"
        "| variant | seed | val BPD | noise BPD | mIoU T = 0.6 | mIoU T = 0.8 | mIoU T = 1.0 | "
        "diverged T = 0.6 / 0.8 / 1.0 | transfers diverged | parameters | steps | minutes |\n"
        "| :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n"
        + "\n".join(_row(m, args.pairs) for m in rows)
        + "\n"
        + _seed_summary(rows, args.pairs, demo.n_val * args.rounds)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
