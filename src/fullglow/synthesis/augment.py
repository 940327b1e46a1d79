"""A synthetic training set: photos generated from labels, with the labels beside them.

For every frame `{city}/{stem}` of a labels-only split, `per_label` candidates `k = 0..per_label-1`
are generated; a selection rule (`fullglow.synthesis.selection`) keeps `keep` of them, written as

```
OUT/leftImg8bit/{split}/{city}/{stem}-s{k}_leftImg8bit.png          generated photo
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_labelIds.png           its label ids
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_color.png              official colours
OUT/gtFine/{split}/{city}/{stem}-s{k}_gtFine_instanceIds.png        (when the input has them)
OUT/rejected/{split}/{city}/{stem}-s{k}.png                         (with save_rejected)
OUT/scores.jsonl                                                    one line per candidate
OUT/augment.json                                                    settings, complete or not
```

at the model's image size (labels resized with nearest neighbour), so `CityscapesDataset(OUT,
split)` or any Cityscapes segmentation trainer reads it. The `-s{k}` suffix keeps the official
`{city}_{seq}_{frame}` stem parseable (it extends the frame field). Candidate `k` of batch `b`
uses the noise of round `k` (see `fullglow.synthesis.seeds`). A candidate whose values are not all
finite (the flow's inverse diverged) is never kept, and counted in the summary.

Scores, per candidate `x` of label `a` (`scores.jsonl`):

- `bits_per_dim` (flows, when a rule selects): `(-log p(x + u | a) + D log 256) / (D log 2)` of the 8-bit photo as
  written, dequantized with `u ~ U(0, 1/256)^D` drawn on the CPU from a generator seeded with
  `derive_seed(seed, k, i)` for label `i` (`candidate_bits_per_dim`);
- `agreement` (with a judge): the mean IoU of the judge's prediction on `x` against `a`.

Resuming: batches are finished one at a time (photos written, then their score lines appended),
and `augment.json` records the settings. The same call on an unfinished folder drops the lines of
a batch cut short, redoes that batch and goes on; since every candidate's noise and score depend
only on the seed, the batch size and its position, the result equals an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from fullglow.data.cityscapes import (
    COLOUR_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_IDS_SUFFIX,
    CityscapesDataset,
    CityscapesRecord,
)
from fullglow.data.image_io import read_instance_ids
from fullglow.data.item import Sample
from fullglow.data.labels import NUM_CLASSES, label_ids_to_colours
from fullglow.data.resizing import resize_nearest
from fullglow.errors import UserInputError
from fullglow.files import atomic_write_text, staged_directory
from fullglow.likelihood import bits_per_dim, dequantize
from fullglow.metrics import SegmentationScores, confusion_matrix
from fullglow.segmenter.loading import check_segmenter
from fullglow.segmenter.network import PSPNet, predict
from fullglow.synthesis.generation import (
    check_image_size,
    check_sampling_options,
    generate,
    model_condition,
    model_device,
    side_input,
    temperatures_of,
    to_model,
)
from fullglow.synthesis.images import cityscapes_photo_path, displayable, diverged_samples, to_uint8
from fullglow.synthesis.sampling import ImageWriter, batches_with_records
from fullglow.synthesis.seeds import batch_generator, derive_seed
from fullglow.synthesis.selection import check_selection, rule_score, select_top
from fullglow.synthesis.splits import sequential_loader
from fullglow.training.runs import weights_fingerprint

log = logging.getLogger(__name__)

MARKER_FILE = "augment.json"
SCORES_FILE = "scores.jsonl"
REJECTED_FOLDER = "rejected"
FORMAT = "fullglow-augment/1"


@dataclass(frozen=True)
class AugmentSummary:
    """What `augment_dataset` wrote: `kept` photo/label pairs in `out_dir` out of
    `n_labels * per_label` candidates; `diverged` candidates had NaN or infinite values.
    `seconds` is the time of this call (a resumed call only counts its own batches)."""

    out_dir: Path
    split: str
    n_labels: int
    per_label: int
    kept: int
    diverged: int
    seconds: float
    generated: int

    @property
    def n_images(self) -> int:
        return self.kept

    @property
    def candidates_per_second(self) -> float:
        """Candidates generated and scored per second by this call."""
        return self.generated / max(self.seconds, 1e-9)


@dataclass(frozen=True)
class CandidateScore:
    """One line of `scores.jsonl` (see the module docstring)."""

    batch: int
    index: int
    label: str
    candidate: int
    seed: int
    temperature: float | None
    bits_per_dim: float | None
    agreement: float | None
    diverged: bool
    kept: bool
    file: str | None


def read_scores(out_dir: Path | str) -> list[CandidateScore]:
    """Every complete line of `OUT/scores.jsonl` (a line cut short by a crash is left out)."""
    path = Path(out_dir) / SCORES_FILE
    if not path.is_file():
        return []
    scores = []
    for line in path.read_text().splitlines():
        try:
            scores.append(CandidateScore(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            break
    return scores


def check_complete_augment(root: Path | str) -> None:
    """Raise `UserInputError` when `root` is an augment folder whose run did not finish."""
    marker = Path(root) / MARKER_FILE
    if marker.is_file() and not json.loads(marker.read_text()).get("complete", False):
        raise UserInputError(
            f"{root} is an unfinished augment output: re-run the same `fullglow augment` "
            "command to complete it"
        )


@torch.no_grad()
def candidate_bits_per_dim(
    model: nn.Module, photos: Tensor, cond: Tensor, side: Tensor | None, seeds: list[int]
) -> Tensor:
    """Bits/dim `(B,)` of 8-bit photos `(B, 3, H, W)` in [0, 1] given their labels, each photo
    dequantized with noise from a CPU generator seeded with its own entry of `seeds`."""
    n_bits = int(model.config.n_bits)
    x = torch.stack(
        [
            dequantize(photo, n_bits, torch.Generator().manual_seed(s))
            for photo, s in zip(photos.cpu(), seeds, strict=True)
        ]
    )
    log_prob = model.log_prob(to_model(model, x), cond, side)
    return bits_per_dim(log_prob, model.num_dims, n_bits).double().cpu()


@torch.no_grad()
def label_agreement(judge: nn.Module, photos: Tensor, train_ids: Tensor) -> list[float]:
    """Per photo `(B, 3, H, W)`, the mean IoU of the judge's prediction against `train_ids`."""
    predicted = predict(judge, photos.cpu()).cpu()
    return [
        SegmentationScores.from_confusion(confusion_matrix(p, t, NUM_CLASSES)).mean_iou
        for p, t in zip(predicted, train_ids.cpu(), strict=True)
    ]


def _check_judge(judge: nn.Module, image_size: tuple[int, int]) -> None:
    """Raise `UserInputError` for a judge that does not segment `image_size` photos into
    `NUM_CLASSES` logits, or was trained at another size (it runs, but its agreement means little).
    """
    check_segmenter(judge, image_size, NUM_CLASSES)
    if isinstance(judge, PSPNet) and tuple(judge.config.image_size) != image_size:
        raise UserInputError(
            "the judge segmenter was trained on {}x{} photos, the model makes {}x{}: train a "
            "judge at the model's size".format(*judge.config.image_size, *image_size)
        )


def _label_files(
    labels: CityscapesDataset, index: int, record: CityscapesRecord, size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """`{suffix: array}` of one frame's label files at `size`."""
    label_ids = resize_nearest(labels.load_label_ids(index), size)
    files = {
        LABEL_IDS_SUFFIX: label_ids,
        COLOUR_SUFFIX: label_ids_to_colours(label_ids, str(record.label_ids_path)),
    }
    if record.instance_path is not None:
        instances = read_instance_ids(record.instance_path)
        if instances.size and (int(instances.min()) < 0 or int(instances.max()) > 65535):
            raise UserInputError(f"{record.instance_path}: instance ids do not fit 16 bits")
        files[INSTANCE_SUFFIX] = resize_nearest(instances, size).astype(np.uint16)
    return files


def _open_output(out_dir: Path, settings: dict[str, Any], overwrite: bool) -> list[CandidateScore]:
    """Prepare `out_dir` and return the score lines of the batches already finished there."""
    marker = out_dir / MARKER_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError(f"{out_dir} exists and is not a folder")
    if marker.is_file() and not overwrite:
        stored = json.loads(marker.read_text())
        if stored.get("format") != FORMAT or stored.get("settings") != settings:
            changed = sorted(
                k for k in settings if stored.get("settings", {}).get(k) != settings[k]
            )
            raise UserInputError(
                f"{out_dir} holds an augment run made with other settings ({', '.join(changed)}); "
                "re-run with the same settings to resume it, or pass --overwrite to replace it"
            )
        return read_scores(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise UserInputError(
                f"{out_dir} already exists; choose a new output path (or pass --overwrite to "
                "replace it)"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_marker(out_dir, settings, complete=False)
    return []


def _write_marker(out_dir: Path, settings: dict[str, Any], complete: bool) -> None:
    payload = {"format": FORMAT, "settings": settings, "complete": complete}
    atomic_write_text(out_dir / MARKER_FILE, json.dumps(payload, indent=2) + "\n")


def _finished_batches(
    scores: list[CandidateScore], sizes: list[int], per_label: int
) -> list[CandidateScore]:
    """The lines of the leading batches whose every candidate is recorded."""
    kept: list[CandidateScore] = []
    position = 0
    for batch, size in enumerate(sizes):
        lines = scores[position : position + size * per_label]
        if len(lines) < size * per_label or any(line.batch != batch for line in lines):
            break
        kept.extend(lines)
        position += size * per_label
    return kept


def _append_lines(path: Path, lines: list[CandidateScore]) -> None:
    with open(path, "a") as handle:
        handle.write("".join(json.dumps(asdict(line)) + "\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class _Selection:
    select: str
    keep: int
    per_label: int
    temperature: float | None
    seed: int
    save_rejected: bool
    denoise_sigma: float | None = None
    guidance: float | None = None


class _BatchWriter:
    """Generates, scores, selects and writes the candidates of one batch of labels."""

    def __init__(
        self,
        model: nn.Module,
        judge: nn.Module | None,
        labels: CityscapesDataset,
        out_dir: Path,
        selection: _Selection,
        writer: ImageWriter,
    ) -> None:
        self.model, self.judge, self.labels = model, judge, labels
        self.out_dir, self.selection, self.writer = out_dir, selection, writer
        self.size = tuple(model.config.image_size)
        self.device = model_device(model)
        self.score_likelihood = model.has_likelihood and selection.select != "all"

    def _candidates(self, batch_index: int, batch: Sample, first: int) -> tuple[list, list, list]:
        """Per candidate round `k`: the 8-bit photos, diverged flags, bpds and agreements."""
        model, selection = self.model, self.selection
        cond = model_condition(model, batch.label_colour)
        side = side_input(model, to_model(model, batch.boundary))
        photos, diverged, scores = [], [], []
        for k in range(selection.per_label):
            generator = batch_generator(self.device, selection.seed, k, batch_index)
            generated = generate(
                model, cond, side, selection.temperature, generator, selection.denoise_sigma,
                selection.guidance,
            )  # fmt: skip
            bad = diverged_samples(generated).tolist()
            shown = displayable(generated)
            bpd: list[float | None] = [None] * len(bad)
            if self.score_likelihood:
                seeds = [derive_seed(selection.seed, k, first + i) for i in range(len(bad))]
                values = candidate_bits_per_dim(model, shown, cond, side, seeds).tolist()
                bpd = [
                    None if b or not np.isfinite(v) else v for v, b in zip(values, bad, strict=True)
                ]
            agreement: list[float | None] = [None] * len(bad)
            if self.judge is not None:
                values = label_agreement(self.judge, shown, batch.train_ids)
                agreement = [None if b else v for v, b in zip(values, bad, strict=True)]
            photos.append(to_uint8(shown))
            diverged.append(bad)
            scores.append(list(zip(bpd, agreement, strict=True)))
        return photos, diverged, scores

    def run(
        self, batch_index: int, batch: Sample, records: list[CityscapesRecord], first: int
    ) -> list[CandidateScore]:
        check_image_size(self.model, batch, str(self.labels.root))
        selection, split = self.selection, self.labels.split
        photos, diverged, scores = self._candidates(batch_index, batch, first)
        items: list[tuple[Path, np.ndarray]] = []
        lines: list[CandidateScore] = []
        for i, record in enumerate(records):
            ranked = [
                None if diverged[k][i] else rule_score(selection.select, *scores[k][i])
                for k in range(selection.per_label)
            ]
            keep = select_top(ranked, selection.keep)
            files = _label_files(self.labels, first + i, record, self.size) if any(keep) else {}
            for k in range(selection.per_label):
                stem = f"{record.stem}-s{k}"
                path: Path | None = None
                if keep[k]:
                    path = cityscapes_photo_path(self.out_dir, split, record.city, stem)
                    label_dir = self.out_dir / "gtFine" / split / record.city
                    label_dir.mkdir(parents=True, exist_ok=True)
                    items.extend((label_dir / f"{stem}{suffix}", a) for suffix, a in files.items())
                elif selection.save_rejected and not diverged[k][i]:
                    path = self.out_dir / REJECTED_FOLDER / split / record.city / f"{stem}.png"
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    items.append((path, photos[k][i]))
                lines.append(
                    CandidateScore(
                        batch=batch_index,
                        index=first + i,
                        label=str(record.label_ids_path.relative_to(self.labels.root)),
                        candidate=k,
                        seed=selection.seed,
                        temperature=selection.temperature,
                        bits_per_dim=scores[k][i][0],
                        agreement=scores[k][i][1],
                        diverged=bool(diverged[k][i]),
                        kept=bool(keep[k]),
                        file=None if path is None else str(path.relative_to(self.out_dir)),
                    )
                )
        self.writer.write(items)
        self.writer.flush()
        return lines


def augment_dataset(
    model: nn.Module,
    labels: CityscapesDataset,
    out_dir: str | Path,
    per_label: int = 1,
    temperature: float | None = 0.8,
    batch_size: int = 16,
    seed: int = 0,
    num_workers: int = 0,
    overwrite: bool = False,
    select: str = "all",
    keep: int | None = None,
    judge: nn.Module | None = None,
    save_rejected: bool = False,
    progress: bool = True,
    denoise_sigma: float | None = None,
    guidance: float | None = None,
) -> AugmentSummary:
    """Generate `per_label` candidates for each label of `labels`, keep `keep` of them by the rule
    `select` (default: all) and write the dataset (see the module docstring); resumes an
    unfinished `out_dir` made with the same settings.

    `labels` must be loaded at the model's size (`open_dataset_split(..., require_photos=False)`);
    `judge` is a segmenter of photos `(B, 3, H, W)` into `NUM_CLASSES` logits (for `agreement`,
    and its score is recorded whenever given); `progress`: show a progress bar; `denoise_sigma`
    and `guidance`: a flow's self-denoising step and guidance weight (see `generate`; None:
    neither). A candidate's bits/dim is the model's density at the photo as written (8-bit,
    denoised if asked), also for guided candidates, whose density `log p` does not describe.

    Raises:
        UserInputError: a bad rule, count or judge (see `check_selection`, `check_segmenter`), a
            denoising sigma <= 0, an empty split, labels of another size than the model's, or an existing `out_dir` that
            is not an unfinished run of the same settings, without `overwrite`.
    """
    keep = per_label if keep is None else keep
    check_selection(select, per_label, keep, model.has_likelihood, judge is not None)
    temperature = temperatures_of(model, [temperature])[0]
    check_sampling_options(denoise_sigma, guidance)
    if judge is not None:
        _check_judge(judge, tuple(model.config.image_size))
    loader = sequential_loader(labels, batch_size, num_workers)
    out_dir = Path(out_dir)
    settings = {
        "labels": str(Path(labels.root).resolve()), "split": labels.split,
        "n_labels": len(labels), "per_label": per_label, "keep": keep, "select": select,
        "temperature": temperature, "batch_size": batch_size, "seed": seed,
        "model": weights_fingerprint(model),
        "judge": None if judge is None else weights_fingerprint(judge),
        "save_rejected": save_rejected,
    }  # fmt: skip
    # Only when used, so that folders written before these options existed still resume.
    for name, value in (("denoise_sigma", denoise_sigma), ("guidance", guidance)):
        if value is not None:
            settings[name] = value
    sizes = [min(batch_size, len(labels) - b) for b in range(0, len(labels), batch_size)]
    done = _finished_batches(_open_output(out_dir, settings, overwrite), sizes, per_label)
    scores_path = out_dir / SCORES_FILE
    atomic_write_text(scores_path, "".join(json.dumps(asdict(line)) + "\n" for line in done))
    first_batch = len({line.batch for line in done})
    if first_batch:
        log.info("augment: resuming %s after %d of %d batches", out_dir, first_batch, len(sizes))
    selection = _Selection(
        select, keep, per_label, temperature, seed, save_rejected, denoise_sigma, guidance
    )
    start = time.perf_counter()
    generated = 0
    bar = tqdm(total=len(labels) * per_label, desc="augmenting", unit="img", disable=not progress)
    bar.update(len(done))
    with ImageWriter() as writer, bar:
        batches = _BatchWriter(model, judge, labels, out_dir, selection, writer)
        for batch_index, batch, records in batches_with_records(loader, labels):
            if batch_index < first_batch:
                continue
            lines = batches.run(batch_index, batch, records, batch_index * batch_size)
            _append_lines(scores_path, lines)
            generated += len(lines)
            bar.update(len(lines))
    _write_marker(out_dir, settings, complete=True)
    every = read_scores(out_dir)
    summary = AugmentSummary(
        out_dir=out_dir, split=labels.split, n_labels=len(labels), per_label=per_label,
        kept=sum(s.kept for s in every), diverged=sum(s.diverged for s in every),
        seconds=time.perf_counter() - start, generated=generated,
    )  # fmt: skip
    if summary.diverged:
        log.warning(
            "%d of %d candidates diverged (NaN or infinite values) and were not kept",
            summary.diverged, len(every),
        )  # fmt: skip
    log.info(
        "kept %d of %d candidates in %s (%.1f candidates/s)",
        summary.kept, len(every), out_dir, summary.candidates_per_second,
    )  # fmt: skip
    return summary


def reselect_augment(
    source: str | Path, out_dir: str | Path, select: str, keep: int, overwrite: bool = False
) -> AugmentSummary:
    """The candidates of a finished augment folder `source` (written with `save_rejected`), kept
    again by the rule `select` into `out_dir`: the same files `augment_dataset` would write with
    `select` and `keep` from the same model, seed and judge, without generating anything.

    The score lines are copied with their new `kept` and `file`, so `scores.jsonl` also holds the
    scores that `select` does not rank by (e.g. the bits/dim of an `agreement` folder).

    Raises:
        UserInputError: `source` is not a finished augment folder with its rejected candidates
            saved, lacks the score `select` ranks by, or `out_dir` exists without `overwrite`.
    """
    source, out_dir = Path(source), Path(out_dir)
    marker = source / MARKER_FILE
    stored = json.loads(marker.read_text()) if marker.is_file() else {}
    if not stored.get("complete", False):
        raise UserInputError(f"{source} is not a finished augment output")
    settings = dict(stored["settings"])
    per_label = int(settings["per_label"])
    if not settings["save_rejected"] and int(settings["keep"]) < per_label:
        raise UserInputError(f"{source} did not save its rejected candidates: cannot reselect")
    lines = read_scores(source)
    scored = [line for line in lines if not line.diverged]
    check_selection(
        select, per_label, keep,
        all(line.bits_per_dim is not None for line in scored),
        all(line.agreement is not None for line in scored),
    )  # fmt: skip
    settings.update(select=select, keep=keep, reselected_from=str(source.resolve()))
    split = settings["split"]
    start = time.perf_counter()
    new_lines: list[CandidateScore] = []
    with staged_directory(out_dir, overwrite) as staging:
        for first in range(0, len(lines), per_label):
            group = lines[first : first + per_label]
            ranked = [
                None if line.diverged else rule_score(select, line.bits_per_dim, line.agreement)
                for line in group
            ]
            label = Path(group[0].label)
            city, stem = label.parent.name, label.name[: -len(LABEL_IDS_SUFFIX)]
            kept_before = [line.candidate for line in group if line.kept]
            if not kept_before and any(r is not None for r in ranked):
                raise UserInputError(f"{source}: {label} has scored candidates but none kept")
            for line, kept in zip(group, select_top(ranked, keep), strict=True):
                path: Path | None = None
                if kept:
                    path = cityscapes_photo_path(staging, split, city, f"{stem}-s{line.candidate}")
                    _copy_label_files(
                        source / "gtFine" / split / city, f"{stem}-s{kept_before[0]}",
                        staging / "gtFine" / split / city, f"{stem}-s{line.candidate}",
                    )  # fmt: skip
                elif line.file is not None:
                    path = (
                        staging / REJECTED_FOLDER / split / city / f"{stem}-s{line.candidate}.png"
                    )
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source / str(line.file), path)
                new_lines.append(
                    CandidateScore(
                        **{
                            **asdict(line), "kept": kept,
                            "file": None if path is None else str(path.relative_to(staging)),
                        }
                    )
                )  # fmt: skip
        _append_lines(staging / SCORES_FILE, new_lines)
        _write_marker(staging, settings, complete=True)
    return AugmentSummary(
        out_dir=out_dir, split=split, n_labels=int(settings["n_labels"]), per_label=per_label,
        kept=sum(line.kept for line in new_lines),
        diverged=sum(line.diverged for line in new_lines),
        seconds=time.perf_counter() - start, generated=0,
    )  # fmt: skip


def _copy_label_files(source_dir: Path, source_stem: str, target_dir: Path, stem: str) -> None:
    """Copy one candidate's label files (ids, colours, instances when present) under a new stem."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for suffix in (LABEL_IDS_SUFFIX, COLOUR_SUFFIX, INSTANCE_SUFFIX):
        path = source_dir / f"{source_stem}{suffix}"
        if path.is_file():
            shutil.copy2(path, target_dir / f"{stem}{suffix}")
