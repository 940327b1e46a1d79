"""Loading the model to evaluate: a training run folder, or a folder written by `model.save`.

A run folder (`fullglow train --out RUN`) holds `train_config.json` and checkpoints and is read
with `fullglow.training.load_trained_model`; a model folder holds `config.json` and
`model.safetensors`. Either way the model comes back in evaluation mode on the requested device,
with a fingerprint of its weights so that stored results can be matched to the weights they
came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fullglow.errors import UserInputError
from fullglow.models.io import CONFIG_FILE as MODEL_CONFIG_FILE
from fullglow.models.io import WEIGHTS_FILE as MODEL_WEIGHTS_FILE
from fullglow.models.io import load_model
from fullglow.training.config import CONFIG_FILE as TRAIN_CONFIG_FILE
from fullglow.training.config import TrainConfig, read_config

DISPLAY_NAMES = {
    "fullglow": "Full-Glow",
    "cglow-v1": "C-Glow v.1",
    "cglow-v2": "C-Glow v.2",
    "dualglow": "Dual-Glow",
    "pix2pix": "pix2pix",
    "glow": "Glow",
}
"""How the paper's tables name each registry model."""


@dataclass(frozen=True)
class LoadedRun:
    """A model ready to evaluate.

    Attributes:
        model: the network, in eval mode, on the requested device.
        path: the run (or model) folder it came from.
        checkpoint: which checkpoint was loaded ("best", "last"; "model" for a model folder).
        fingerprint: 16 hex digits of the SHA-256 of its weights (`weights_fingerprint`).
    """

    model: nn.Module
    path: Path
    checkpoint: str
    fingerprint: str

    @property
    def name(self) -> str:
        """The registry name, e.g. "fullglow"."""
        return str(getattr(self.model, "name", type(self.model).__name__))

    @property
    def image_size(self) -> tuple[int, int]:
        """`(H, W)` the model generates."""
        height, width = self.model.config.image_size
        return int(height), int(width)


def weights_fingerprint(module: nn.Module) -> str:
    """16 hex digits of the SHA-256 over a module's state dict (names, dtypes, shapes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def load_run(
    run_dir: str | Path, checkpoint: str = "best", device: torch.device | str = "cpu"
) -> LoadedRun:
    """Load the model of a training run folder or of a saved model folder.

    Raises:
        UserInputError: the folder does not exist or holds neither a model nor a checkpoint.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise UserInputError(f"run {path}: no such folder")
    if (path / MODEL_CONFIG_FILE).is_file():
        model, loaded = load_model(path, map_location="cpu"), "model"
    elif not (path / TRAIN_CONFIG_FILE).is_file():
        raise UserInputError(
            f"run {path}: neither a training run ({TRAIN_CONFIG_FILE} and checkpoints) nor a "
            f"saved model ({MODEL_CONFIG_FILE} and {MODEL_WEIGHTS_FILE}); nothing to evaluate"
        )
    else:
        from fullglow.training import load_trained_model

        model, _ = load_trained_model(path, checkpoint=checkpoint, map_location="cpu")
        loaded = checkpoint
    model.eval()
    fingerprint = weights_fingerprint(model)
    return LoadedRun(model.to(device), path, loaded, fingerprint)


def display_name(model_name: str) -> str:
    """The paper's name of a registry model ("fullglow" -> "Full-Glow"); unknown names as given."""
    return DISPLAY_NAMES.get(model_name, model_name)


@dataclass(frozen=True)
class RunOptions:
    """The sampling options a run was trained for: `guidance` (trained with label dropout,
    `--label-dropout P > 0`) and `denoise_sigma` (trained on photos with Gaussian noise of that
    sigma, `--noise-sigma`; None: not). The app offers only these; the study denoises with it."""

    guidance: bool = False
    denoise_sigma: float | None = None

    @classmethod
    def of_config(cls, config: TrainConfig) -> RunOptions:
        return cls(config.label_dropout > 0, config.noise_sigma)

    @classmethod
    def of_run(cls, path: str | Path) -> RunOptions:
        """The options of the run folder `path` (none for a saved model without a training
        config)."""
        config = read_config(Path(path))
        return cls() if config is None else cls.of_config(config)


def sampling_warnings(
    run: LoadedRun, denoise_sigma: float | None, guidance: float | None
) -> list[str]:
    """Why sampling `run` with `denoise_sigma` and `guidance` may not be what was meant: either
    for a model without a latent (pix2pix: ignored), guidance for a run trained without label
    dropout (its null-label model was never trained), denoising at another sigma than the run's
    training noise. Nothing is known of a saved model without a training config."""
    if denoise_sigma is None and guidance is None:
        return []
    if not run.model.has_likelihood:
        return [f"{run.name} has no latent to guide or denoise: --guidance and --denoise-sigma "
                "are ignored for it"]  # fmt: skip
    config = read_config(run.path)
    if config is None:
        return []
    trained = RunOptions.of_config(config)
    warnings = []
    if guidance is not None and not trained.guidance:
        warnings.append(
            f"guidance w = {guidance:g} for a run trained without label dropout: its null-label "
            "model was never trained (train with --label-dropout P)"
        )
    if denoise_sigma is not None and denoise_sigma != trained.denoise_sigma:
        noise = (
            "uniform dequantization"
            if trained.denoise_sigma is None
            else f"sigma {trained.denoise_sigma:g}"
        )
        warnings.append(
            f"denoising with sigma {denoise_sigma:g} a run trained with {noise} (the score step "
            "removes the noise the model was trained on)"
        )
    return warnings
