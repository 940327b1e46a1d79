"""The results of evaluating one model: typed records and their `metrics.json` form.

Scores are fractions in [0, 1] (tables print percentages). A temperature's summary is the mean and
the population standard deviation (`ddof = 0`, so one round has std 0) over its sampling rounds,
as the paper's "mean ± std over 3 rounds".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fullglow.errors import UserInputError
from fullglow.metrics import SegmentationScores

FORMAT = "fullglow-eval/1"
METRICS = ("pixel_accuracy", "class_accuracy", "mean_iou")


@dataclass(frozen=True)
class MeanStd:
    """Mean and population standard deviation of a score over rounds."""

    mean: float
    std: float

    @classmethod
    def of(cls, values: list[float]) -> MeanStd:
        mean = sum(values) / len(values)
        return cls(mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))


@dataclass(frozen=True)
class RoundScores:
    """The three FCN scores of one pass over the split (see `fullglow.metrics`).

    `diverged`: how many of the round's samples hold a NaN or infinite value (the flow's inverse
    overflowed); they are scored as they are written (`fullglow.synthesis.images.displayable`:
    non-finite values as 0, the rest clamped to [0, 1]). None where it is not known: real
    photos, and photos read back from disk.

    `warning`: why the scores should not be trusted (the real photos scored near chance, see
    `fullglow.evaluation.evaluate.near_chance_warning`), None when nothing is wrong.
    """

    pixel_accuracy: float
    class_accuracy: float
    mean_iou: float
    diverged: int | None = None
    warning: str | None = None

    @classmethod
    def from_scores(
        cls, scores: SegmentationScores, diverged: int | None = None, warning: str | None = None
    ) -> RoundScores:
        return cls(scores.pixel_accuracy, scores.class_accuracy, scores.mean_iou, diverged, warning)

    def to_json(self) -> dict[str, float | int | str | None]:
        values = {**{name: getattr(self, name) for name in METRICS}, "diverged": self.diverged}
        return values if self.warning is None else {**values, "warning": self.warning}

    @classmethod
    def from_json(cls, values: Any, where: str) -> RoundScores:
        try:
            scores = {name: float(values[name]) for name in METRICS}
            diverged = values.get("diverged")
            warning = values.get("warning")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserInputError(f"{where}: bad scores {values!r} ({err!r})") from None
        if diverged is not None and not (type(diverged) is int and diverged >= 0):
            raise UserInputError(f"{where}: bad diverged count {diverged!r} in {values!r}")
        return cls(**scores, diverged=diverged, warning=None if warning is None else str(warning))


@dataclass(frozen=True)
class TemperatureResult:
    """Scores of the samples at one temperature, one entry per round.

    Attributes:
        temperature: `T`, or None for a model without temperature (pix2pix).
        rounds: the scores of each sampling round.
    """

    temperature: float | None
    rounds: tuple[RoundScores, ...]

    def stat(self, metric: str) -> MeanStd:
        """Mean and std over rounds of `metric` (one of `METRICS`)."""
        return MeanStd.of([getattr(r, metric) for r in self.rounds])

    @property
    def pixel_accuracy(self) -> MeanStd:
        return self.stat("pixel_accuracy")

    @property
    def class_accuracy(self) -> MeanStd:
        return self.stat("class_accuracy")

    @property
    def mean_iou(self) -> MeanStd:
        return self.stat("mean_iou")

    @property
    def diverged(self) -> int | None:
        """Diverged samples over all rounds (see `RoundScores`), None if any round's is unknown."""
        counts = [r.diverged for r in self.rounds]
        return None if None in counts else sum(counts)

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "temperature": self.temperature,
            "rounds": [r.to_json() for r in self.rounds],
        }
        for name in METRICS:
            stat = self.stat(name)
            values[name] = {"mean": stat.mean, "std": stat.std}
        return values

    @classmethod
    def from_json(cls, values: Any, where: str) -> TemperatureResult:
        try:
            temperature = values["temperature"]
            rounds = tuple(RoundScores.from_json(r, where) for r in values["rounds"])
        except (KeyError, TypeError) as err:
            raise UserInputError(f"{where}: bad temperature entry ({err!r})") from None
        if not rounds:
            raise UserInputError(f"{where}: temperature {temperature} has no rounds")
        return cls(None if temperature is None else float(temperature), rounds)


@dataclass(frozen=True)
class EvaluationReport:
    """Everything `evaluate_run` measured for one model; `metrics.json` is `to_json()`.

    Attributes:
        model: registry name ("fullglow", "pix2pix", ...).
        run: the run (or model) folder. checkpoint: which checkpoint ("best", "last", "model").
        data: dataset root. split: its split. n_images: photos in the split.
        image_size: `(H, W)` the model generates and the scores are computed at.
        bpd: conditional bits per dimension (None for pix2pix). bpd_draws: dequantization draws.
        temperatures: one result per temperature, in the order evaluated.
        ground_truth: the segmenter's scores on the real photos (the ceiling).
        segmenter: the segmenter's path. seed: the sampling seed.
        model_fingerprint / segmenter_fingerprint: hashes of the weights that were scored.
        denoise_sigma: the samples were denoised with one score step of this sigma (None: not).
        guidance: the samples were guided with this weight against the null label (None: not).
    """

    model: str
    run: str
    checkpoint: str
    data: str
    split: str
    n_images: int
    image_size: tuple[int, int]
    bpd: float | None
    bpd_draws: int
    temperatures: tuple[TemperatureResult, ...]
    ground_truth: RoundScores
    segmenter: str
    seed: int
    model_fingerprint: str
    segmenter_fingerprint: str
    denoise_sigma: float | None = None
    guidance: float | None = None

    @property
    def sampling_note(self) -> str | None:
        """How the samples were drawn beyond plain sampling ("guidance w = 1.5, denoised with
        sigma 0.02"), None for plain sampling."""
        parts = []
        if self.guidance is not None:
            parts.append(f"guidance w = {self.guidance:g}")
        if self.denoise_sigma is not None:
            parts.append(f"denoised with sigma {self.denoise_sigma:g}")
        return ", ".join(parts) or None

    @property
    def rounds(self) -> int:
        """Sampling rounds per temperature (the largest, should they differ)."""
        return max(len(t.rounds) for t in self.temperatures)

    def at(self, temperature: float | None) -> TemperatureResult | None:
        """The result at `temperature` (any temperature for pix2pix), or None if not evaluated."""
        for result in self.temperatures:
            if result.temperature is None or (
                temperature is not None and math.isclose(result.temperature, temperature)
            ):
                return result
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "run": self.run,
            "checkpoint": self.checkpoint,
            "data": self.data,
            "split": self.split,
            "n_images": self.n_images,
            "image_size": list(self.image_size),
            "bpd": self.bpd,
            "bpd_draws": self.bpd_draws,
            "temperatures": [t.to_json() for t in self.temperatures],
            "ground_truth": self.ground_truth.to_json(),
            "segmenter": self.segmenter,
            "seed": self.seed,
            "model_fingerprint": self.model_fingerprint,
            "segmenter_fingerprint": self.segmenter_fingerprint,
            "denoise_sigma": self.denoise_sigma,
            "guidance": self.guidance,
        }

    @classmethod
    def from_json(cls, values: Any, where: str = "metrics.json") -> EvaluationReport:
        """Parse `to_json()`'s output (the mean/std entries are recomputed from the rounds).

        Raises:
            UserInputError: not a `fullglow-eval/1` record, or a field is missing or malformed.
        """
        if not isinstance(values, dict) or values.get("format") != FORMAT:
            raise UserInputError(f"{where}: not a {FORMAT!r} metrics file")
        try:
            bpd = values["bpd"]
            temperatures = tuple(
                TemperatureResult.from_json(t, where) for t in values["temperatures"]
            )
            height, width = values["image_size"]
            return cls(
                model=str(values["model"]),
                run=str(values["run"]),
                checkpoint=str(values["checkpoint"]),
                data=str(values["data"]),
                split=str(values["split"]),
                n_images=int(values["n_images"]),
                image_size=(int(height), int(width)),
                bpd=None if bpd is None else float(bpd),
                bpd_draws=int(values["bpd_draws"]),
                temperatures=temperatures,
                ground_truth=RoundScores.from_json(values["ground_truth"], where),
                segmenter=str(values["segmenter"]),
                seed=int(values["seed"]),
                model_fingerprint=str(values["model_fingerprint"]),
                segmenter_fingerprint=str(values["segmenter_fingerprint"]),
                # Absent from the files of fullglow before guidance and denoising existed.
                denoise_sigma=_optional_float(values.get("denoise_sigma")),
                guidance=_optional_float(values.get("guidance")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserInputError(f"{where}: malformed metrics ({err!r})") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
