"""Evaluating a trained model as in the paper's section 5: conditional BPD and segmentation scores.

For every temperature `T` and round `r`, every label of the split is turned into a photo (batched,
on the model's device), the segmenter labels the photo, and one confusion matrix per `(T, r)` is
accumulated over the split against the ground-truth train ids (ignore index 255). The FCN scores
of each matrix are the round's scores; a temperature reports their mean ± std over rounds. The
real photos go through the same segmenter for the ceiling ("Ground-truth") row. All of this is
one pass over the data; the conditional BPD (`fullglow.evaluation.bpd`) is a second one.

`evaluate_run` writes `RUN/eval/` with `metrics.json` (`EvaluationReport.to_json`), `table1.md`,
`table2.md` and `samples.png` (the first labels, their photos and the samples at each temperature:
`fullglow.evaluation.figures.temperatures_figure`), all at once (staged, then renamed).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from fullglow.data.cityscapes import CityscapesDataset
from fullglow.data.image_io import write_png
from fullglow.errors import UserInputError
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.figures import temperatures_figure
from fullglow.evaluation.report import EvaluationReport, RoundScores, TemperatureResult
from fullglow.evaluation.tables import (
    describe,
    shown_temperature,
    table1,
    table2,
    temperature_cell,
)
from fullglow.files import staged_directory
from fullglow.metrics import NUM_CLASSES, SegmentationScores, confusion_matrix
from fullglow.segmenter.loading import check_segmenter, load_segmenter
from fullglow.segmenter.network import predict
from fullglow.synthesis.generation import (
    PAPER_TEMPERATURES,
    check_image_size,
    check_sampling_options,
    generate,
    model_condition,
    model_device,
    side_input,
    temperatures_of,
    to_model,
)
from fullglow.synthesis.images import (
    cityscapes_photo_path,
    displayable,
    diverged_samples,
    read_photo,
)
from fullglow.synthesis.seeds import batch_generator
from fullglow.synthesis.splits import open_dataset_split, sequential_loader
from fullglow.training.runs import LoadedRun, load_run, sampling_warnings, weights_fingerprint

log = logging.getLogger(__name__)

EVAL_FOLDER = "eval"
METRICS_FILE = "metrics.json"
FIGURE_FILE = "samples.png"


@dataclass(frozen=True)
class EvaluationSettings:
    """How to evaluate (the same for every model of a comparison).

    Attributes:
        temperatures: sampling temperatures (ignored for pix2pix, which has one "—" row).
        rounds: sampling rounds per temperature (the paper: 3).
        batch_size: labels per model call. num_workers: DataLoader worker processes.
        seed: seeds the sampling noise (see `fullglow.synthesis.seeds`) and the BPD's
            dequantization noise. bpd_draws: dequantization draws averaged per photo.
        compute_bpd: False skips the BPD (the report then holds None).
        figure_rows: labels shown in `samples.png` (at most the split's size and the batch
            size, since it shows the first batch that was scored); 0 for no figure.
        progress: show progress bars (on stderr); False for none.
        denoise_sigma: denoise a flow's samples with one score step of this sigma (a model
            trained with `noise_sigma`, see `fullglow.synthesis.denoise`); None: none.
        guidance: sample a flow guided with this weight against the null label (a model trained
            with `label_dropout`, see `fullglow.synthesis.guidance`); None: unguided.
    """

    temperatures: tuple[float, ...] = PAPER_TEMPERATURES
    rounds: int = 3
    batch_size: int = 16
    seed: int = 0
    bpd_draws: int = 4
    num_workers: int = 0
    compute_bpd: bool = True
    figure_rows: int = 4
    progress: bool = True
    denoise_sigma: float | None = None
    guidance: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        if self.rounds < 1 or self.batch_size < 1 or self.bpd_draws < 1 or self.num_workers < 0:
            raise UserInputError(
                f"rounds ({self.rounds}), batch size ({self.batch_size}) and BPD draws "
                f"({self.bpd_draws}) must be >= 1 and num_workers ({self.num_workers}) >= 0"
            )
        if self.figure_rows < 0:
            raise UserInputError(f"figure rows must be >= 0, got {self.figure_rows}")
        check_sampling_options(self.denoise_sigma, self.guidance)


@dataclass(frozen=True)
class Segmenter:
    """A segmenter checked for the evaluation's image size, on the evaluation's device."""

    network: nn.Module
    path: str
    fingerprint: str


def prepare_segmenter(
    path: str | Path, image_size: tuple[int, int], device: torch.device | str
) -> Segmenter:
    """Load a segmenter (directory, `.pt2` or TorchScript file), move it to `device` and check
    that it maps photos of `image_size` to `NUM_CLASSES` logits of the same size.

    Raises:
        UserInputError: unreadable, wrong class count or wrong output size.
    """
    network = load_segmenter(path, NUM_CLASSES)
    fingerprint = weights_fingerprint(network)
    network = network.to(device).eval()
    check_segmenter(network, image_size, NUM_CLASSES, device)
    trained_at = getattr(getattr(network, "config", None), "image_size", None)
    if trained_at is not None and tuple(trained_at) != tuple(image_size):
        log.warning(
            "segmenter %s was trained at %dx%d; it scores images at %dx%d here",
            path, trained_at[0], trained_at[1], image_size[0], image_size[1],
        )  # fmt: skip
    return Segmenter(network, str(Path(path).resolve()), fingerprint)


def _scores(conf: Tensor, what: str, diverged: int | None = None) -> RoundScores:
    try:
        return RoundScores.from_scores(SegmentationScores.from_confusion(conf), diverged)
    except ValueError as err:
        raise UserInputError(f"{what}: {err}") from None


def near_chance_warning(conf: Tensor, image_size: tuple[int, int]) -> str | None:
    """A warning when a confusion matrix of the real photos is no better than chance, else None.

    Chance is always predicting the class with the most labelled pixels: its pixel accuracy is
    `max_i t_i / sum_i t_i`. A segmenter that does worse on the real photos is misconfigured
    (a working one scores far above it), so its scores of generated photos mean nothing.
    """
    conf = conf.detach().to("cpu", torch.float64)
    truth = conf.sum(dim=1)
    accuracy = float(conf.diagonal().sum() / truth.sum())
    majority = float(truth.max() / truth.sum())
    if accuracy >= majority:
        return None
    height, width = image_size
    return (
        f"the segmenter scores the real photos near chance: pixel accuracy {100 * accuracy:.2f}% "
        f"is below the {100 * majority:.2f}% of always predicting the most frequent class. "
        f"Likely causes: its input normalisation (it gets RGB photos in [0, 1]; a network that "
        f"expects normalised input needs a wrapper that normalises), the resolution (it runs at "
        f"{height}x{width}; one trained at another size may fail there), or its class order "
        f"(its logits must be the 19 Cityscapes train ids in order)"
    )


def _real_scores(conf: Tensor, what: str, image_size: tuple[int, int]) -> RoundScores:
    """The real photos' scores, with `near_chance_warning` attached and logged."""
    scores = _scores(conf, what)
    warning = near_chance_warning(conf, image_size)
    if warning is not None:
        log.warning("%s: %s", what, warning)
    return dataclasses.replace(scores, warning=warning)


@torch.no_grad()
def score_real_photos(
    segmenter: nn.Module, dataset: CityscapesDataset, settings: EvaluationSettings
) -> RoundScores:
    """The segmenter's scores on the real photos of `dataset` alone (the "Ground-truth" row,
    without a model), with a warning when they are near chance (`near_chance_warning`)."""
    loader = sequential_loader(dataset, settings.batch_size, settings.num_workers)
    device = model_device(segmenter)
    real = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.int64, device=device)
    for batch in tqdm(loader, desc="segmenting", unit="batch", disable=not settings.progress):
        prediction = predict(segmenter, batch.photo.to(device), settings.batch_size)
        real += confusion_matrix(prediction, batch.train_ids.to(device), NUM_CLASSES)
    size = tuple(batch.train_ids.shape[-2:])
    return _real_scores(real, f"{dataset.root} ({dataset.split}), real photos", size)


@torch.no_grad()
def segmentation_scores(
    model: nn.Module,
    segmenter: nn.Module,
    dataset: CityscapesDataset,
    settings: EvaluationSettings,
) -> tuple[tuple[TemperatureResult, ...], RoundScores]:
    """Scores of the model's samples at each temperature and round, and of the real photos.

    Returns:
        `(results, ground_truth)`: one `TemperatureResult` per temperature (one `(None,)` row for
        pix2pix) and the real photos' scores.
    """
    temperatures = temperatures_of(model, settings.temperatures)
    loader = sequential_loader(dataset, settings.batch_size, settings.num_workers)
    device = model_device(model)
    k = NUM_CLASSES
    real = torch.zeros(k, k, dtype=torch.int64, device=device)
    confusions = torch.zeros(
        len(temperatures), settings.rounds, k, k, dtype=torch.int64, device=device
    )
    diverged = torch.zeros(len(temperatures), settings.rounds, dtype=torch.int64, device=device)
    total = len(loader) * len(temperatures) * settings.rounds
    bar = tqdm(
        total=total, desc="sampling + segmenting", unit="batch", disable=not settings.progress
    )
    with bar:
        for batch_index, batch in enumerate(loader):
            check_image_size(model, batch, str(dataset.root))
            cond = model_condition(model, batch.label_colour)
            side = side_input(model, to_model(model, batch.boundary))
            target = batch.train_ids.to(device)
            real += confusion_matrix(
                predict(segmenter, batch.photo.to(device), len(cond)), target, k
            )
            for t_index, temperature in enumerate(temperatures):
                for round_index in range(settings.rounds):
                    generator = batch_generator(device, settings.seed, round_index, batch_index)
                    photos = generate(
                        model, cond, side, temperature, generator, settings.denoise_sigma,
                        settings.guidance,
                    )  # fmt: skip
                    diverged[t_index, round_index] += diverged_samples(photos).sum()
                    photos = displayable(photos).float()
                    prediction = predict(segmenter, photos, len(photos))
                    confusions[t_index, round_index] += confusion_matrix(prediction, target, k)
                    bar.update()
    results = tuple(
        TemperatureResult(
            temperature,
            tuple(
                _scores(conf, f"{dataset.root} ({dataset.split})", int(count))
                for conf, count in zip(confusions[i], diverged[i], strict=True)
            ),
        )
        for i, temperature in enumerate(temperatures)
    )
    for result in results:
        if result.diverged:
            log.warning(
                "T = %s: %d of %d samples diverged (NaN or infinite values; they are scored as "
                "written, NaN as 0)",
                result.temperature, result.diverged, len(dataset) * settings.rounds,
            )  # fmt: skip
    what = f"{dataset.root} ({dataset.split}), real photos"
    return results, _real_scores(real, what, tuple(model.config.image_size))


def evaluate_model(
    run: LoadedRun,
    dataset: CityscapesDataset,
    segmenter: Segmenter,
    settings: EvaluationSettings,
) -> EvaluationReport:
    """Evaluate a loaded model on a dataset at the model's size (see the module docstring)."""
    model = run.model
    if not model.has_likelihood:
        log.info("%s has no likelihood: no BPD, and one sampling row without temperature", run.name)
    for warning in sampling_warnings(run, settings.denoise_sigma, settings.guidance):
        log.warning("%s: %s", run.path, warning)
    bpd = None
    if model.has_likelihood and settings.compute_bpd:
        bpd = conditional_bpd(
            model, dataset, settings.batch_size, settings.bpd_draws, settings.seed,
            settings.num_workers, progress=settings.progress,
        ).mean  # fmt: skip
        if not math.isfinite(bpd):
            log.warning("the conditional BPD of %s is %s", run.path, bpd)
    results, ground_truth = segmentation_scores(model, segmenter.network, dataset, settings)
    return EvaluationReport(
        model=run.name,
        run=str(run.path.resolve()),
        checkpoint=run.checkpoint,
        data=str(Path(dataset.root).resolve()),
        split=dataset.split,
        n_images=len(dataset),
        image_size=run.image_size,
        bpd=bpd,
        bpd_draws=settings.bpd_draws,
        temperatures=results,
        ground_truth=ground_truth,
        segmenter=segmenter.path,
        seed=settings.seed,
        model_fingerprint=run.fingerprint,
        segmenter_fingerprint=segmenter.fingerprint,
        denoise_sigma=settings.denoise_sigma if model.has_likelihood else None,
        guidance=settings.guidance if model.has_likelihood else None,
    )


def write_evaluation(
    report: EvaluationReport,
    out_dir: str | Path,
    table_temperature: float = 1.0,
    figure: np.ndarray | Path | None = None,
) -> Path:
    """Replace `out_dir` by a folder with `metrics.json`, `table1.md`, `table2.md` and, when
    `figure` is given, `samples.png`: the figure `(H, W, 3)` uint8, or the path of a PNG to carry
    over (an earlier figure of the same weights, when only a temperature is added).

    `table1.md` scores the model at `table_temperature` when it was evaluated there, else at the
    last temperature evaluated (pix2pix: its one row).
    """
    shown = shown_temperature(report, table_temperature)
    label = (
        ""
        if report.at(shown).temperature is None
        else f"Temperature {temperature_cell(shown)}:\n\n"
    )
    heading = describe(report)
    with staged_directory(Path(out_dir), overwrite=True) as staging:
        (staging / METRICS_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        (staging / "table1.md").write_text(f"{heading}\n\n{label}" + table1([report], shown))
        (staging / "table2.md").write_text(f"{heading}\n\n" + table2(report))
        if isinstance(figure, Path):
            shutil.copyfile(figure, staging / FIGURE_FILE)
        elif figure is not None:
            write_png(staging / FIGURE_FILE, figure)
    return Path(out_dir)


def read_evaluation(path: str | Path) -> EvaluationReport:
    """Parse a `metrics.json` written by `write_evaluation`.

    Raises:
        UserInputError: missing or malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: no such metrics file")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from None
    return EvaluationReport.from_json(values, str(path))


def evaluate_run(
    run_dir: str | Path,
    data: str | Path,
    segmenter_path: str | Path,
    split: str = "val",
    settings: EvaluationSettings | None = None,
    device: torch.device | str = "cpu",
    checkpoint: str = "best",
) -> EvaluationReport:
    """Load a run, evaluate it on `data`'s `split` and write `RUN/eval/` (see the module)."""
    settings = settings or EvaluationSettings()
    run = load_run(run_dir, checkpoint, device)
    dataset = open_dataset_split(data, split, run.image_size)
    segmenter = prepare_segmenter(segmenter_path, run.image_size, device)
    report = evaluate_model(run, dataset, segmenter, settings)
    rows = min(settings.figure_rows, len(dataset), settings.batch_size)
    if rows < settings.figure_rows:
        log.warning(
            "the samples figure shows %d rows, not %d: it shows the first batch (batch size %d) "
            "of a split of %d labels", rows, settings.figure_rows, settings.batch_size, len(dataset),
        )  # fmt: skip
    figure = None
    if rows:
        figure = temperatures_figure(
            run, dataset, rows, settings.temperatures, settings.batch_size, settings.seed,
            settings.denoise_sigma, settings.guidance,
        )  # fmt: skip
    write_evaluation(report, run.path / EVAL_FOLDER, figure=figure)
    log.info("wrote %s", run.path / EVAL_FOLDER / METRICS_FILE)
    return report


class _SavedSamples(Dataset):
    """Generated photos of one round (Cityscapes layout) paired with the split's train ids."""

    def __init__(self, round_dir: Path, labels: CityscapesDataset) -> None:
        self.labels = labels
        self.paths = [
            cityscapes_photo_path(round_dir, labels.split, r.city, r.stem) for r in labels.records
        ]
        missing = [p for p in self.paths if not p.is_file()]
        if missing:
            shown = ", ".join(str(p) for p in missing[:3])
            raise UserInputError(
                f"{round_dir}: {len(missing)} of {len(self.paths)} generated photos are missing "
                f"(e.g. {shown})"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        photo = read_photo(self.paths[index])
        train_ids = self.labels[index].train_ids
        if photo.shape[-2:] != train_ids.shape:
            height, width = photo.shape[-2:]
            record = self.labels.records[index]
            size = self.labels.image_size
            how = f"resized to {size[0]}x{size[1]}" if size else "at the file's size"
            raise UserInputError(
                f"{self.paths[index]}: generated photo is {height}x{width} but its label "
                f"{record.label_ids_path} is {train_ids.shape[0]}x{train_ids.shape[1]} ({how}); "
                f"load the labels at the photos' size (fullglow evaluate --image-size "
                f"{height}x{width})"
            )
        return photo, train_ids


def round_folders(samples: Path) -> list[Path]:
    """The `round_k` folders below a `fullglow sample` output, in round order.

    Raises:
        UserInputError: there is none.
    """
    found = [p for p in Path(samples).glob("round_*") if p.is_dir() and p.name[6:].isdigit()]
    if not found:
        raise UserInputError(f"{samples}: no round_1, round_2, ... folders (from fullglow sample)")
    return sorted(found, key=lambda p: int(p.name[6:]))


@torch.no_grad()
def score_saved_samples(
    samples: str | Path,
    labels: CityscapesDataset,
    segmenter: nn.Module,
    batch_size: int = 16,
    num_workers: int = 0,
    progress: bool = True,
) -> TemperatureResult:
    """Scores of photos written by `sample_split` (or any tool using the Cityscapes layout).

    Each `samples/round_k/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png` is segmented and
    compared with the train ids of `labels` (same split); the result has one entry per round and
    temperature None (the folder does not record it).

    Raises:
        UserInputError: no rounds, a missing photo, or a photo whose size differs from its label's.
    """
    device = model_device(segmenter)
    rounds = []
    for round_dir in round_folders(Path(samples)):
        loader = DataLoader(
            _SavedSamples(round_dir, labels), batch_size=batch_size, num_workers=num_workers
        )
        conf = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.int64, device=device)
        for photos, train_ids in tqdm(
            loader, desc=round_dir.name, unit="batch", disable=not progress
        ):
            prediction = predict(segmenter, photos.to(device), batch_size)
            conf += confusion_matrix(prediction, train_ids.to(device), NUM_CLASSES)
        rounds.append(_scores(conf, str(round_dir)))
    return TemperatureResult(None, tuple(rounds))


def parse_temperatures(text: str) -> tuple[float, ...]:
    """`"0.0,0.5,1.0"` -> `(0.0, 0.5, 1.0)`.

    Raises:
        UserInputError: an entry is not a number >= 0, or the list is empty.
    """
    values: list[float] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UserInputError(f"temperatures: {part.strip()!r} is not a number") from None
        if not (math.isfinite(value) and value >= 0):
            raise UserInputError(f"temperatures must be >= 0, got {value}")
        values.append(value)
    return tuple(values)
