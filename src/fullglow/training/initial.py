"""The model a training run starts from, so that "step 0 of this run" can be rebuilt anywhere.

`seeded_model` builds it right after `torch.manual_seed(config.seed)` (every process of a
distributed run gets the same weights); `data_initialize` runs the data-dependent initialisation
(actnorm) on the run's first *global* batch, dequantized exactly as the trainer's step 0 sees it.
`initial_model` does both: the trainer's model before its first optimisation step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from fullglow.errors import UserInputError
from fullglow.layers.nets import set_bf16
from fullglow.models.config import config_to_dict
from fullglow.models.registry import build_config, model_from_config, model_names
from fullglow.training.batches import first_global_batch, prepare_batch
from fullglow.training.config import TrainConfig

UNCONDITIONAL_MODELS = frozenset({"glow"})


def trainable_models() -> list[str]:
    """Registry names `train` accepts: the conditional models (flows and pix2pix)."""
    return [name for name in model_names() if name not in UNCONDITIONAL_MODELS]


def model_config(config: TrainConfig) -> Any:
    """The model's config dataclass for a training config (preset, options, size, side input).

    Raises:
        UserInputError: a model `train` cannot train, or options the model rejects.
    """
    if config.model not in trainable_models():
        raise UserInputError(
            f"model {config.model!r} cannot be trained here; choose one of {trainable_models()}"
        )
    options = dict(config.model_options)
    if config.image_size is not None:
        options["image_size"] = config.image_size
    options["side_channels"] = 1 if config.boundary else 0
    try:
        return build_config(config.model, config.preset, **options)
    except (ValueError, TypeError) as err:
        if isinstance(err, UserInputError):
            raise
        raise UserInputError(f"model {config.model!r}: {err}") from err


def seeded_model(config: TrainConfig, device: torch.device) -> nn.Module:
    """The run's model as built from `config.seed`, on `device` in `config.dtype`, with the
    bf16 and memory-saving options set; not yet data-initialised.

    Raises:
        UserInputError: see `model_config`; memory-saving asked of a model without the mode.
    """
    built = model_config(config)
    torch.manual_seed(config.seed)
    model = model_from_config(config.model, config_to_dict(built))
    model.to(device=device, dtype=getattr(torch, config.dtype))
    set_bf16(model, config.bf16)
    if config.memory_saving:
        if not hasattr(model, "memory_saving"):
            raise UserInputError(f"model {config.model!r} has no memory-saving mode")
        model.memory_saving = True
    return model


def data_initialize(
    model: nn.Module, dataset: Dataset, config: TrainConfig, device: torch.device
) -> None:
    """Data-dependent initialisation on the run's first global batch (nothing for pix2pix).

    Every process calls it with the same batch, before DistributedDataParallel would keep only
    rank 0's result.
    """
    if not hasattr(model, "initialize"):
        return
    indices = first_global_batch(dataset, config)
    batch = prepare_batch(
        default_collate([dataset[i] for i in indices]),
        config=config,
        n_bits=model.config.n_bits,
        step=0,
        slots=range(len(indices)),
        device=device,
        flip=config.flip,
    )
    model.initialize(batch.x, batch.cond, batch.side)


def initial_model(config: TrainConfig, dataset: Dataset, device: torch.device) -> nn.Module:
    """The model `fullglow.training.train(config)` starts from, before its first step, in eval
    mode: `dataset` is the run's training split at the model's size."""
    model = seeded_model(config, device)
    data_initialize(model, dataset, config, device)
    return model.eval()
