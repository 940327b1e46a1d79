"""Training: `train(TrainConfig, run_dir, resume)` alone or under torchrun, and
`load_trained_model(run_dir)` for what a run produced."""

from fullglow.training.config import TrainConfig
from fullglow.training.loading import load_trained_model
from fullglow.training.trainer import TrainingError, TrainResult, train, trainable_models

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "load_trained_model",
    "train",
    "trainable_models",
]
