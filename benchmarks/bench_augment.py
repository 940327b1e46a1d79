"""Synthesis speed of `fullglow augment` at batch 16, with and without selection scoring.

    python benchmarks/bench_augment.py                        # fullglow + pix2pix demo, 32x64
    python benchmarks/bench_augment.py --run STUDY/runs/fullglow --labels 128

Generates `--labels` built-in street-scene labels, then times `augment_dataset` end to end
(sampling, scoring, selection and writing the PNGs) with `--per-label` candidates per label, under
each rule: `all` (no score), `likelihood` (log p(x | label) of every candidate), `agreement` (a
judge segmenter on every candidate) and both scores at once (what the study computes, so that one
pass serves both rules). Prints a Markdown table of candidates per second (every candidate is
generated and written, kept or rejected) and kept photos per second. Weights are a fresh model's
(initialised on the labels' photos) unless `--run` is given: the cost of a pass does not depend on
the weights' values; the judge is a fresh segmenter of the study's default width.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import nn

from fullglow.cli.args import image_size
from fullglow.data import synthesize_dataset
from fullglow.models.registry import build_model
from fullglow.segmenter.network import PSPNet, SegmenterConfig
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.splits import open_dataset_split
from fullglow.training.distributed import resolve_device
from fullglow.training.runs import load_run

BATCH = 16


def _model(name: str, size: tuple[int, int], data: Path, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name, "demo", image_size=size).to(device)
    if model.has_likelihood:
        batch = next(iter(torch.utils.data.DataLoader(open_dataset_split(data, "train", size), 16)))
        model.initialize(batch.photo.to(device), batch.label_colour.to(device))
    return model.eval()


def bench(models: dict[str, nn.Module], data: Path, per_label: int, work: Path) -> None:
    print(
        f"| model | rule | scores | candidates | seconds | candidates/s (batch {BATCH}) "
        "| kept photos/s |"
    )
    print("|---|---|---|--:|--:|--:|--:|")
    for name, model in models.items():
        size = tuple(model.config.image_size)
        labels = open_dataset_split(data, "train", size, require_photos=False)
        judge = PSPNet(SegmenterConfig(image_size=size)).to(next(model.parameters()).device).eval()
        cases = [("all", None, "none"), ("agreement", judge, "judge")]
        if model.has_likelihood:
            cases[1:1] = [("likelihood", None, "log_prob")]
            cases.append(("likelihood", judge, "log_prob + judge"))
        for select, case_judge, scores in cases:
            summary = augment_dataset(
                model, labels, work / f"{name}-{select}-{scores}", per_label=per_label,
                temperature=0.8 if model.has_likelihood else None, batch_size=BATCH,
                select=select, keep=per_label if select == "all" else 1, judge=case_judge,
                save_rejected=True,
            )  # fmt: skip
            print(
                f"| {name} | {select} | {scores} | {summary.generated} | {summary.seconds:.1f} "
                f"| {summary.candidates_per_second:.1f} "
                f"| {summary.kept / summary.seconds:.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="fullglow,pix2pix", help="registry names (demo preset)")
    parser.add_argument("--run", default=None, help="benchmark a trained run's model instead")
    parser.add_argument("--image-size", type=image_size, default="32x64", metavar="HxW")
    parser.add_argument("--labels", type=int, default=64, help="labels generated (default 64)")
    parser.add_argument("--per-label", type=int, default=4, help="candidates (default 4)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="bench-augment-") as tmp:
        data = Path(tmp) / "data"
        synthesize_dataset(
            data, n_train=args.labels, n_val=1, size=args.image_size, seed=0, progress=False
        )
        if args.run:
            models = {"run": load_run(args.run, "last", device).model}
        else:
            models = {
                name: _model(name, args.image_size, data, device) for name in args.models.split(",")
            }
        bench(models, data, args.per_label, Path(tmp))


if __name__ == "__main__":
    main()
