"""Training: `train(TrainConfig, run_dir, resume)` alone or under torchrun,
`load_trained_model(run_dir)` for what a run produced, and `initial_model` for its step 0."""

from fullglow.training.config import TrainConfig
from fullglow.training.initial import initial_model, trainable_models
from fullglow.training.loading import load_trained_model
from fullglow.training.trainer import TrainingError, TrainResult, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "initial_model",
    "load_trained_model",
    "train",
    "trainable_models",
]
