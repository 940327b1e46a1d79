"""The training configuration: one frozen dataclass, saved as `RUN/train_config.json`.

A run folder is tied to its configuration: a different configuration is refused unless the run
is resumed, and a resumed run may change only what does not alter the optimisation it continues
(`RESUMABLE_FIELDS`: how long to train, how often to log, where to run).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fullglow.config_checks import check_types
from fullglow.errors import UserInputError

log = logging.getLogger(__name__)

DatasetKind = Literal["cityscapes", "paired"]
DecayKind = Literal["none", "linear"]

CONFIG_FILE = "train_config.json"

RESUMABLE_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "time_budget_minutes",
        "device",
        "tf32",
        "num_workers",
        "val_every",
        "val_batches",
        "sample_every",
        "checkpoint_every",
        "log_every",
        "keep_last",
        "max_nonfinite",
    }
)
"""Fields a `--resume` may change: they do not alter the weights of the steps already planned."""

# The paper's learning rate for the flows (section 5); pix2pix brings its own (2e-4).
DEFAULT_FLOW_LR = 1e-4


@dataclass(frozen=True)
class TrainConfig:
    """Everything `fullglow.training.train` needs; the CLI parses its flags into this.

    Attributes:
        model: registry name (`fullglow.model_names()`), e.g. "fullglow" or "pix2pix".
        preset: the model's preset ("paper-256", "demo", "tiny"); None: the model's default.
        model_options: model config fields that override the preset (e.g. `{"n_flows": 8}`).
        data: dataset root; dataset: "cityscapes" (official layout) or "paired" (pix2pix folders).
        image_size: `(H, W)` the images are resized to and the model is built for; None: the
            preset's size. direction: "AtoB"/"BtoA" for paired folders. cityscapes_palette:
            paired labels are colour labels of the Cityscapes palette (e.g. pix2pix's JPEGs),
            snapped to the nearest class colour (`fullglow.data.palette_snap`).
        boundary: feed the instance-boundary map as side information (`side_channels = 1`).
        flip: random horizontal flips of the training pairs.
        batch_size: the global batch, split evenly over the processes of a distributed run.
        lr: Adam's learning rate; None: the model's own (1e-4, the paper's, for the flows;
            `config.lr` for pix2pix).
        steps / epochs: training length, exactly one of them.
        warmup: steps of linear warm-up from 0; decay: "none" or "linear" (constant until
            `decay_start * total_steps`, then linear to 0, as the reference code).
        grad_clip: clip the global gradient norm to this value; None: no clipping.
        val_every / val_batches: validation every so many steps over the first `val_batches`
            batches of the val split (0: no validation). sample_every / n_samples: sample grids.
        checkpoint_every / keep_last: checkpoint period and how many `last-*.pt` to keep.
        log_every: steps between `metrics.jsonl` records.
        max_nonfinite: stop after this many consecutive steps with non-finite loss or gradients.
        memory_saving: invertible backprop (activations recomputed, not stored).
        device: "cpu", "cuda", "cuda:N" or "auto". tf32: allow TF32 matmuls on CUDA.
        bf16: run the coupling and conditioning networks under bfloat16 autocast (actnorm, the
            1x1 convolutions, the priors and every log-det stay float32; see
            `fullglow.layers.nets`). About 2x faster on a CPU with AVX512-BF16; the model it
            saves is float32 and loads without it.
        dtype: "float32", or "float64" to check numerics (e.g. that processes agree: Adam turns
            float32 rounding noise on near-zero gradients into visible weight differences).
        deterministic: `torch.use_deterministic_algorithms(True)` during training.
        seed: model initialisation, data order and data noise all derive from it.
        num_workers: DataLoader worker processes.
        time_budget_minutes: stop cleanly, with a checkpoint, once this much time is spent.
        ema: keep an exponential moving average of the weights with this decay (e.g. 0.999,
            `fullglow.training.ema`), which sampling and evaluation then load; None: none.
        noise_sigma: train (and validate) on photos with Gaussian noise of this sigma instead
            of the uniform dequantization (`fullglow.likelihood.gaussian_dequantize`); sample
            with `denoise_sigma` equal to it. None: uniform dequantization (the paper's).
        label_dropout: replace a training sample's label by the null label (every pixel
            "unlabeled") with this probability, so that guided sampling
            (`fullglow.synthesis.guidance`) has a null model to push away from; 0: never.
    """

    model: str = "fullglow"
    preset: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    data: str = ""
    dataset: DatasetKind = "cityscapes"
    image_size: tuple[int, int] | None = None
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    cityscapes_palette: bool = False
    boundary: bool = False
    flip: bool = True
    batch_size: int = 1
    lr: float | None = None
    steps: int | None = None
    epochs: int | None = None
    warmup: int = 0
    decay: DecayKind = "none"
    decay_start: float = 0.5
    grad_clip: float | None = None
    val_every: int = 500
    val_batches: int = 8
    sample_every: int = 500
    n_samples: int = 4
    checkpoint_every: int = 500
    keep_last: int = 3
    log_every: int = 10
    max_nonfinite: int = 10
    memory_saving: bool = False
    device: str = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    tf32: bool = False
    bf16: bool = False
    deterministic: bool = False
    seed: int = 0
    num_workers: int = 0
    time_budget_minutes: float | None = None
    ema: float | None = None
    noise_sigma: float | None = None
    label_dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", str(self.data))
        check_types(self)
        object.__setattr__(self, "model_options", dict(self.model_options))
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        self._validate()

    def _validate(self) -> None:
        problems = []
        if (self.steps is None) == (self.epochs is None):
            problems.append(f"give exactly one of steps ({self.steps}) and epochs ({self.epochs})")
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be >= 1, got {value}")
        for name in (
            "batch_size",
            "keep_last",
            "log_every",
            "max_nonfinite",
            "n_samples",
            "val_batches",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "val_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_workers < 0:
            problems.append(f"num_workers must be >= 0, got {self.num_workers}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"lr must be a positive number, got {self.lr}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            problems.append(f"grad_clip must be > 0, got {self.grad_clip}")
        if self.decay not in ("none", "linear"):
            problems.append(f"decay must be 'none' or 'linear', got {self.decay!r}")
        if not 0.0 <= self.decay_start < 1.0:
            problems.append(f"decay_start must be in [0, 1), got {self.decay_start}")
        if self.dataset not in ("cityscapes", "paired"):
            problems.append(f"dataset must be 'cityscapes' or 'paired', got {self.dataset!r}")
        if self.cityscapes_palette and self.dataset != "paired":
            problems.append("cityscapes_palette is for paired folders (dataset 'paired')")
        if self.dtype not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.bf16 and self.dtype != "float32":
            problems.append(f"bf16 mixes bfloat16 into float32 training, not {self.dtype}")
        if self.direction not in ("AtoB", "BtoA"):
            problems.append(f"direction must be 'AtoB' or 'BtoA', got {self.direction!r}")
        if self.time_budget_minutes is not None and not self.time_budget_minutes > 0:
            problems.append(f"time_budget_minutes must be > 0, got {self.time_budget_minutes}")
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            problems.append(f"ema must be a decay in (0, 1), got {self.ema}")
        if self.noise_sigma is not None and not (
            math.isfinite(self.noise_sigma) and self.noise_sigma > 0
        ):
            problems.append(f"noise_sigma must be a positive number, got {self.noise_sigma}")
        if not 0.0 <= self.label_dropout < 1.0:
            problems.append(f"label_dropout must be in [0, 1), got {self.label_dropout}")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            problems.append(f"image_size must be two positive sides (H, W), got {self.image_size}")
        if "image_size" in self.model_options or "side_channels" in self.model_options:
            problems.append(
                "model_options may not set image_size or side_channels: use image_size and boundary"
            )
        if problems:
            raise UserInputError("training config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "training config") -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(f"{where}: unknown fields {unknown}")
        return cls(**values)

    def differences(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """`{field: (self's value, other's value)}` for every field that differs (JSON-compared)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


def read_config(run_dir: Path) -> TrainConfig | None:
    """The configuration stored in `run_dir`, or None when there is none."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(values, dict):
        raise UserInputError(f"{path}: expected a JSON object of training options")
    return TrainConfig.from_dict(values, where=str(path))


def reconcile_config(
    run_dir: Path, config: TrainConfig, resume: bool, trained: bool = True
) -> TrainConfig | None:
    """Check `config` against the one stored in `run_dir`; return the stored one, if any.

    `trained`: whether `run_dir` holds a checkpoint. A stored config without one belongs to a
    start that failed before it saved anything (every run that trains saves a checkpoint when it
    stops, finished or interrupted), so it does not bind: a corrected retry replaces it.

    Raises:
        UserInputError: the stored config differs and `resume` is False, or it differs in a field
            outside `RESUMABLE_FIELDS`.
    """
    stored = read_config(run_dir)
    if stored is None:
        return None
    changed = stored.differences(config)
    if not changed:
        return stored
    listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
    if not trained:
        log.warning(
            "%s: replacing the configuration of a start that saved no checkpoint (%s)",
            run_dir, listed,
        )  # fmt: skip
        return None
    if not resume:
        raise UserInputError(
            f"{run_dir} already holds a run with another configuration ({listed}); "
            "choose a new --out folder, or pass --resume to continue that run"
        )
    fixed = sorted(set(changed) - RESUMABLE_FIELDS)
    if fixed:
        raise UserInputError(
            f"{run_dir}: --resume cannot change {', '.join(fixed)} ({listed}); only "
            f"{', '.join(sorted(RESUMABLE_FIELDS))} may change when resuming"
        )
    return stored
