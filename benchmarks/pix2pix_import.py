"""`fullglow import-pix2pix` on generated scenes saved like pix2pix's cityscapes: speed and
agreement of the recovered label ids with the true ones.

    python benchmarks/pix2pix_import.py                      # 100 frames of 256x256
    python benchmarks/pix2pix_import.py --frames 40 --side 128

Each frame is rendered at SIDE x 2 SIDE, squashed to SIDE x SIDE (label ids nearest neighbour,
which are the truth; photo bicubic), and saved as one aligned JPEG at quality 75, photo | colour
label. Two colour labels are tried: the exact palette colours of the squashed ids ("nearest"), and
the full-size colour label squashed with antialiased bicubic ("bicubic", blended edge colours as
an interpolating resize of the official files makes). Agreement is the share of pixels whose
imported id equals the true one (shared colours count as their mapped id), overall and away from
class edges (no other id within 2 pixels); mIoU scores the imported train ids against the true
ones (FCN definition; a pixel imported as "not evaluated" counts as wrong).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fullglow.data import CityscapesDataset
from fullglow.data.labels import (
    NUM_CLASSES,
    colours_to_label_ids,
    label_ids_to_colours,
    label_ids_to_train_ids,
)
from fullglow.data.palette_snap import SnapSettings, near_class_edges, snap_colour_label
from fullglow.data.pix2pix_import import import_aligned_pairs
from fullglow.data.resizing import resize_nearest, resize_photo
from fullglow.data.synthetic import render_frame
from fullglow.data.synthetic.dataset import frame_seeds
from fullglow.metrics import SegmentationScores, confusion_matrix

VARIANTS = {
    "snap, plain YCbCr distance (w_Y = 1)": SnapSettings(luma_weight=1.0, radius=0),
    "snap, luma-weighted (w_Y = 8)": SnapSettings(radius=0),
    "snap + clean-up (defaults)": SnapSettings(),
}


def write_aligned(folder: Path, frames: int, side: int, squash: str) -> list[np.ndarray]:
    """Aligned JPEGs `folder/train/{k}.jpg`; returns the true label ids in file order."""
    (folder / "train").mkdir(parents=True)
    truth = []
    for index in range(frames):
        frame = render_frame((side, 2 * side), *frame_seeds(7, "train", index))
        ids = resize_nearest(frame.label_ids, (side, side))
        if squash == "nearest":
            colour = label_ids_to_colours(ids)
        else:
            colour = resize_photo(label_ids_to_colours(frame.label_ids), (side, side))
        pair = np.concatenate([resize_photo(frame.photo, (side, side)), colour], axis=1)
        Image.fromarray(pair).save(folder / "train" / f"{index + 1}.jpg", quality=75)
        truth.append(ids)
    return truth


def agreement(predicted: list[np.ndarray], truth: list[np.ndarray]) -> tuple[float, float, float]:
    """Overall agreement, agreement away from class edges, and mIoU of the train ids."""
    hits = total = hits_away = total_away = 0
    conf = torch.zeros(NUM_CLASSES + 1, NUM_CLASSES + 1, dtype=torch.int64)
    for ids, true in zip(predicted, truth, strict=True):
        same = ids == colours_to_label_ids(label_ids_to_colours(true))
        away = ~near_class_edges(true, radius=2)
        hits, total = hits + same.sum(), total + same.size
        hits_away, total_away = hits_away + (same & away).sum(), total_away + away.sum()
        train = torch.from_numpy(label_ids_to_train_ids(ids)).long()
        train[train == 255] = NUM_CLASSES
        true_train = torch.from_numpy(label_ids_to_train_ids(true)).long()
        conf += confusion_matrix(train, true_train, num_classes=NUM_CLASSES + 1)
    return hits / total, hits_away / total_away, SegmentationScores.from_confusion(conf).mean_iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--side", type=int, default=256)
    args = parser.parse_args()
    print(f"{args.frames} frames of {args.side}x{args.side}, JPEG quality 75\n")
    print("| squash | method | overall | away from edges | mIoU |")
    print("|---|---|---|---|---|")
    timing = []
    for squash in ("nearest", "bicubic"):
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "aligned"
            truth = write_aligned(source, args.frames, args.side, squash)
            labels = [
                np.asarray(Image.open(source / "train" / f"{k + 1}.jpg").convert("RGB"))[
                    :, args.side :
                ]
                for k in range(args.frames)
            ]
            for name, settings in VARIANTS.items():
                ids = [snap_colour_label(label, settings).label_ids for label in labels]
                overall, away, miou = agreement(ids, truth)
                print(
                    f"| {squash} | {name} | {100 * overall:.2f}% | {100 * away:.3f}% | "
                    f"{100 * miou:.1f}% |"
                )
            start = time.perf_counter()
            cpu = time.process_time()
            out = Path(folder) / "out"
            summary = import_aligned_pairs(source, out, progress=False)
            timing.append(
                (squash, args.frames / (time.perf_counter() - start), time.process_time() - cpu)
            )
            imported = CityscapesDataset(out, "train")
            overall, away, miou = agreement(
                [imported.load_label_ids(k) for k in range(args.frames)], truth
            )
            print(
                f"| {squash} | import-pix2pix, read back | {100 * overall:.2f}% | "
                f"{100 * away:.3f}% | {100 * miou:.1f}% |"
            )
            noise = summary.splits[0]
            timing[-1] += (noise.exact / noise.pixels, noise.far / noise.pixels)
    print("\n| squash | import (frames/s, wall) | CPU s | exact palette colour | far (> 30) |")
    print("|---|---|---|---|---|")
    for squash, rate, cpu, exact, far in timing:
        print(f"| {squash} | {rate:.1f} | {cpu:.1f} | {100 * exact:.1f}% | {100 * far:.1f}% |")


if __name__ == "__main__":
    main()
