"""How often decoding diverges, and what it costs to prevent it: the paper's affine coupling
against `scale_floor=0.05` and the additive coupling, on the demo's data and preset.

For each coupling, Full-Glow (`demo` preset) is trained for `--steps` steps at the demo's learning
rate from the same seed, then measured on the val split:

- val BPD: the exact conditional bits per dimension (one dequantization draw);
- mIoU at T = 0.8 and 1.0: the demo's evaluator on the samples, mean over `--rounds` rounds;
- diverged at T = 0.9 and 1.0: samples with a NaN or infinite value, over all rounds;
- transfers diverged: content transfer (latent scale 1) between every ordered pair of the first
  `--pairs` val frames.

The data and the evaluator are the demo's (`DemoConfig()` defaults), made in `OUT` on the first
run and reused after; trained runs are reused too, so a rerun only measures. Prints a Markdown
table (the README's "Two coupling options beyond the paper").

    python benchmarks/coupling_stability.py --out /tmp/couplings          # about 12 minutes
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.demo.config import DemoConfig
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.evaluate import EvaluationSettings, segmentation_scores
from fullglow.segmenter.loading import load_segmenter
from fullglow.segmenter.network import SegmenterConfig
from fullglow.segmenter.training import DEFAULT_BATCH_SIZE, DEFAULT_LR, train_segmenter
from fullglow.synthesis.images import diverged_samples
from fullglow.synthesis.splits import open_dataset_split
from fullglow.synthesis.transfer import content_transfer
from fullglow.training import TrainConfig, train
from fullglow.training.runs import load_run


@dataclass(frozen=True)
class Variant:
    """A row of the table: its label, its run folder's name and the model options."""

    label: str
    key: str
    options: dict


VARIANTS = (
    Variant("affine (paper)", "affine", {"coupling": "affine", "scale_floor": 0.0}),
    Variant(
        "affine, `scale_floor=0.05`",
        "affine-floor-0.05",
        {"coupling": "affine", "scale_floor": 0.05},
    ),
    Variant("additive", "additive", {"coupling": "additive"}),
)


def prepare_demo(out: Path, demo: DemoConfig) -> Path:
    """The demo's data and evaluator in `out` (made once; `quality_variants.py` shares them)."""
    data = out / "data"
    if not (data / "gtFine").is_dir():
        synthesize_dataset(
            data, n_train=demo.n_train, n_val=demo.n_val, size=demo.image_size, seed=demo.seed,
            overwrite=True,
        )  # fmt: skip
    segmenter = out / "segmenter"
    if not segmenter.is_dir():
        train_segmenter(
            CityscapesDataset(data, "train", demo.image_size, flip=True),  # as the demo does
            SegmenterConfig(width=demo.segmenter_width, image_size=demo.image_size),
            demo.segmenter_steps, DEFAULT_BATCH_SIZE, DEFAULT_LR, "cpu", demo.seed, segmenter,
        )  # fmt: skip
    return data


def demo_run_config(
    demo: DemoConfig,
    data: Path,
    steps: int,
    seed: int,
    model_options: dict,
    **train_options: object,
) -> TrainConfig:
    """Full-Glow's `demo` preset trained as the demo trains it (size, batch, learning rate), for
    `steps` steps from `seed`, without validation or sample grids."""
    return TrainConfig(
        model="fullglow",
        preset="demo",
        image_size=demo.image_size,
        data=str(data),
        steps=steps,
        batch_size=demo.batch_size,
        lr=demo.lr,
        seed=seed,
        val_every=0,
        sample_every=0,
        model_options=model_options,
        **train_options,
    )


@torch.no_grad()
def transfers_diverged(model: torch.nn.Module, data: Path, size: tuple[int, int], n: int) -> int:
    """Content transfers (latent scale 1) with a non-finite value, over the ordered pairs of the
    first `n` val frames."""
    val = open_dataset_split(data, "val", size)
    photos = torch.stack([val[i].photo for i in range(n)]) + 0.5 / 256
    labels = torch.stack([val[i].label_colour for i in range(n)])
    count = 0
    for index in range(n):
        others = [j for j in range(n) if j != index]
        result = content_transfer(
            model, photos[index].expand(n - 1, -1, -1, -1),
            labels[index].expand(n - 1, -1, -1, -1), labels[others],
        )  # fmt: skip
        count += int(diverged_samples(result).sum())
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for data, evaluator, runs")
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="val frames for the transfers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    demo = DemoConfig()
    data = prepare_demo(args.out, demo)
    segmenter = load_segmenter(args.out / "segmenter")
    val = open_dataset_split(data, "val", demo.image_size)
    settings = EvaluationSettings(temperatures=(0.8, 0.9, 1.0), rounds=args.rounds, batch_size=16)
    rows = []
    for variant in VARIANTS:
        run_dir = args.out / "runs" / variant.key
        if not (run_dir / "checkpoints").is_dir():
            train(demo_run_config(demo, data, args.steps, demo.seed, variant.options), run_dir)
        model = load_run(run_dir, "last").model
        bpd = conditional_bpd(model, val, batch_size=16, draws=1).mean
        scores, _ = segmentation_scores(model, segmenter, val, settings)
        miou = {t.temperature: 100 * t.mean_iou.mean for t in scores}
        diverged = {t.temperature: t.diverged for t in scores}
        transfers = transfers_diverged(model, data, demo.image_size, args.pairs)
        total = len(val) * args.rounds
        rows.append(
            f"| {variant.label} | {bpd:.2f} | {miou[0.8]:.1f} % | {miou[1.0]:.1f} % | "
            f"{diverged[0.9]} / {diverged[1.0]} of {total} | "
            f"{transfers} of {args.pairs * (args.pairs - 1)} |"
        )
    sys.stdout.write(
        f"Full-Glow `demo` preset, {args.steps} steps, lr {demo.lr}, seed {demo.seed}; "
        f"{len(val)} val labels x {args.rounds} rounds\n\n"
        "| coupling | val BPD | mIoU T = 0.8 | mIoU T = 1.0 | diverged T = 0.9 / 1.0 | "
        "transfers diverged |\n| :-- | --: | --: | --: | --: | --: |\n" + "\n".join(rows) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
