"""The built-in street-scene generator: speed, learnability, and the README's picture.

    python benchmarks/bench_synth.py                  # pairs per second, one process, 3 sizes
    python benchmarks/bench_synth.py --segment        # can a small CNN learn to segment the photos?
    python benchmarks/bench_synth.py --picture docs/images/synth_pairs.png

Speed: frames rendered in memory (`render_frame`) and frames written as the four Cityscapes PNGs
(`synthesize_dataset`), in one process; NumPy and Pillow run single-threaded here, so this is one
core's throughput. Learnability: a 5-layer CNN trained from scratch on generated photos for a
couple of minutes, scored on the generated val split with the FCN paper's metrics, beside the
score of always answering the most frequent class.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from fullglow.data import CityscapesDataset, synthesize_dataset
from fullglow.data.labels import TRAIN_LABELS, label_ids_to_colours
from fullglow.data.synthetic import render_frame
from fullglow.data.synthetic.dataset import frame_seeds
from fullglow.metrics import SegmentationScores, confusion_matrix


def _rate(frames: int, run: Callable[[], object]) -> tuple[float, float]:
    """Frames per CPU second of this process, and per wall-clock second."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return frames / (time.process_time() - cpu), frames / (time.perf_counter() - wall)


def bench_speed(sizes: list[tuple[int, int]], frames: int) -> None:
    print(
        "| size | frames | render (pairs/CPU s) | render + write 4 PNGs (pairs/CPU s) | same, wall clock |"
    )
    print("|---|---|---|---|---|")
    for size in sizes:
        render_frame(size, [0], [0])  # warm-up

        def render(size: tuple[int, int] = size) -> None:
            for index in range(frames):
                render_frame(size, *frame_seeds(0, "train", index))

        with tempfile.TemporaryDirectory() as folder:

            def write(size: tuple[int, int] = size) -> None:
                out = Path(folder) / "out"
                synthesize_dataset(out, n_train=frames, n_val=0, size=size, seed=0, progress=False)

            render_cpu, _ = _rate(frames, render)
            write_cpu, write_wall = _rate(frames, write)
        print(
            f"| {size[0]}x{size[1]} | {frames} | {render_cpu:.1f} | {write_cpu:.1f} | {write_wall:.1f} |"
        )


def picture(path: Path, count: int, size: tuple[int, int]) -> None:
    """A grid of `count` generated frames, one per row: colour label | photo | the same label
    map rendered under another style (another photo it admits)."""
    gap = np.full((size[0], 4, 3), 255, dtype=np.uint8)
    rows = []
    for index in range(count):
        layout_seed, style_seed = frame_seeds(0, "train", index)
        frame = render_frame(size, layout_seed, style_seed)
        other = render_frame(size, layout_seed, [*style_seed, 1])
        colour = label_ids_to_colours(frame.label_ids)
        rows.append(np.concatenate([colour, gap, frame.photo, gap, other.photo], 1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, dtype=np.uint8))
    Image.fromarray(np.concatenate(rows[:-1], 0)).save(path, optimize=True)
    print(f"wrote {path}")


def _segmenter(width: int = 48) -> nn.Module:
    def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
        conv = nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False)
        return [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(3, width),
        *block(width, width, stride=2),
        *block(width, width, dilation=2),
        *block(width, width, dilation=4),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(width, 19, 1),
    )


def bench_segment(n_train: int, n_val: int, size: tuple[int, int], steps: int) -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        root = synthesize_dataset(
            Path(folder) / "data", n_train=n_train, n_val=n_val, size=size, seed=1, progress=False
        )
        train = CityscapesDataset(root, split="train", flip=True)
        val = CityscapesDataset(root, split="val")
        model = _segmenter()
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
        loader = DataLoader(train, batch_size=8, shuffle=True, drop_last=True)
        start, step = time.perf_counter(), 0
        while step < steps:
            for batch in loader:
                loss = nn.functional.cross_entropy(
                    model(batch.photo), batch.train_ids, ignore_index=255
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step += 1
                if step == steps:
                    break
        seconds = time.perf_counter() - start
        model.eval()
        confusion = torch.zeros(19, 19, dtype=torch.long)
        majority = torch.zeros(19, 19, dtype=torch.long)
        with torch.no_grad():
            for batch in DataLoader(val, batch_size=16):
                confusion += confusion_matrix(model(batch.photo).argmax(1), batch.train_ids)
                majority += confusion_matrix(torch.zeros_like(batch.train_ids), batch.train_ids)
    scores = SegmentationScores.from_confusion(confusion)
    baseline = SegmentationScores.from_confusion(majority)
    print(
        f"{n_train} train / {n_val} val frames of {size[0]}x{size[1]}, {steps} steps, {seconds:.0f} s"
    )
    print("| predictor | pixel acc | class acc | mIoU |")
    print("|---|---|---|---|")
    for name, s in (("small CNN", scores), ("always 'road'", baseline)):
        print(f"| {name} | {s.pixel_accuracy:.1%} | {s.class_accuracy:.1%} | {s.mean_iou:.1%} |")
    ious = scores.per_class_iou.tolist()
    per_class = ", ".join(
        f"{label.name} {iou:.0%}"
        for label, iou in zip(TRAIN_LABELS, ious, strict=True)
        if iou == iou
    )
    print(f"per-class IoU: {per_class}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--segment", action="store_true", help="run the learnability check")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--picture", type=Path, help="write a grid of generated pairs here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.picture:
        picture(args.picture, count=4, size=(128, 256))
    elif args.segment:
        bench_segment(n_train=240, n_val=40, size=(64, 128), steps=args.steps)
    else:
        bench_speed([(64, 128), (256, 256), (256, 512)], args.frames)


if __name__ == "__main__":
    main()
