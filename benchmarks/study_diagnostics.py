"""What holds a study's synthetic data back: sample quality as the study's judge sees it.

    python benchmarks/study_diagnostics.py STUDY --labels 96 --temperatures 0.5,0.7,0.8,1.0

Reads a finished `fullglow study augmentation` folder and prints three Markdown tables:

1. per synthetic set (`STUDY/aug/*`): candidates, diverged, mean agreement (the judge's mIoU of
   a candidate against its label) over all candidates and over the kept ones, and the kept ones'
   mean bits/dim, beside the judge's agreement on U's real photos (what a perfect generator
   would reach);
2. per generator trained in the study: steps reached and the last logged training loss;
3. agreement of one sample per label of the first `--labels` labels of U at each temperature (the
   trained flows), with the count of diverged samples, to see whether the study's temperature is
   the one that serves the segmenter best.

The judge is the study's own (`STUDY/segmenters/real-s0`, trained on R).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from fullglow.data import CityscapesDataset
from fullglow.segmenter.loading import load_segmenter
from fullglow.synthesis.augment import label_agreement, read_scores
from fullglow.synthesis.generation import generate, side_input, to_model
from fullglow.synthesis.images import displayable
from fullglow.synthesis.seeds import batch_generator
from fullglow.synthesis.splits import open_dataset_split, sequential_loader
from fullglow.training.metrics_log import read_training_log
from fullglow.training.runs import load_run

BATCH = 16


def _mean(values: list[float]) -> str:
    return f"{100 * float(np.mean(values)):.1f}" if values else "—"


def synthetic_sets(study: Path, judge: torch.nn.Module, size: tuple[int, int]) -> None:
    print("| set | candidates | diverged | agreement % (all) | agreement % (kept) | kept bpd |")
    print("|---|--:|--:|--:|--:|--:|")
    for folder in sorted((study / "aug").iterdir()):
        lines = read_scores(folder)
        scored = [s for s in lines if s.agreement is not None]
        kept = [s for s in scored if s.kept]
        bpds = [s.bits_per_dim for s in kept if s.bits_per_dim is not None]
        print(
            f"| {folder.name} | {len(lines)} | {sum(s.diverged for s in lines)} | "
            f"{_mean([s.agreement for s in scored])} | {_mean([s.agreement for s in kept])} | "
            f"{f'{np.mean(bpds):.3f}' if bpds else '—'} |"
        )
    real = CityscapesDataset(study / "split" / "pool_real", "train", size)
    values: list[float] = []
    for batch in sequential_loader(real, BATCH, 0):
        values.extend(label_agreement(judge, batch.photo, batch.train_ids))
    print(f"| U's real photos | {len(values)} | 0 | {_mean(values)} | — | — |")


def training(study: Path) -> None:
    print(
        "\n| generator | steps reached | last logged loss (flows: bits/dim; pix2pix: generator loss) |"
    )
    print("|---|--:|--:|")
    for run in sorted((study / "runs").iterdir()):
        records = read_training_log(run)
        last = records[-1] if records else {}
        loss = last.get("loss", last.get("g_loss"))
        print(f"| {run.name} | {last.get('step', 0)} | {'—' if loss is None else f'{loss:.3f}'} |")


@torch.no_grad()
def temperatures(
    study: Path, judge: torch.nn.Module, size: tuple[int, int], n_labels: int, values: list[float]
) -> None:
    labels = open_dataset_split(
        study / "split" / "pool_labels", "train", size, require_photos=False
    )
    subset = torch.utils.data.Subset(labels, range(min(n_labels, len(labels))))
    batches = list(torch.utils.data.DataLoader(subset, BATCH))
    print(f"\n| generator | temperature | agreement % ({len(subset)} labels) | diverged |")
    print("|---|--:|--:|--:|")
    for run in sorted((study / "runs").iterdir()):
        model = load_run(run, "last", "cpu").model.eval()
        for temperature in values if model.has_likelihood else [None]:
            agreement, diverged = [], 0
            for index, batch in enumerate(batches):
                cond = to_model(model, batch.label_colour)
                side = side_input(model, to_model(model, batch.boundary))
                photos = generate(
                    model,
                    cond,
                    side,
                    temperature,
                    batch_generator(torch.device("cpu"), 0, 0, index),
                )
                finite = torch.isfinite(photos).flatten(1).all(dim=1)
                diverged += int((~finite).sum())
                scores = label_agreement(judge, displayable(photos), batch.train_ids)
                agreement.extend(s for s, ok in zip(scores, finite.tolist(), strict=True) if ok)
            shown = "—" if temperature is None else f"{temperature:g}"
            print(f"| {run.name} | {shown} | {_mean(agreement)} | {diverged} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="a finished study folder")
    parser.add_argument("--labels", type=int, default=96, help="labels of U in the sweep")
    parser.add_argument("--temperatures", default="0.5,0.7,0.8,1.0", help="comma-separated")
    args = parser.parse_args()
    judge = load_segmenter(args.study / "segmenters" / "real-s0").eval()
    size = tuple(judge.config.image_size)
    synthetic_sets(args.study, judge, size)
    training(args.study)
    sweep = [float(t) for t in args.temperatures.split(",")]
    temperatures(args.study, judge, size, args.labels, sweep)


if __name__ == "__main__":
    main()
