"""What every flow model shares (Glow and the conditional flows): level geometry, latents,
memory-saving mode, data-dependent initialisation, saving and loading."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from fullglow.errors import UserInputError
from fullglow.models.config import config_from_dict
from fullglow.models.multiscale import level_shapes, num_dims
from fullglow.models.saved import load_weights, read_model_meta, save_model

FlowT = TypeVar("FlowT", bound="FlowModel")


class FlowModel(nn.Module):
    """A multi-scale flow over `(B, config.in_channels, H, W)` images in [0, 1].

    `memory_saving = True` trains with invertible backprop (activations rebuilt, not stored;
    `fullglow.layers.reversible`). Subclasses set `name` (the registry's) and `config_class`.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    has_likelihood = True

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.shapes = level_shapes(config.image_size, config.in_channels, config.n_blocks)
        self.memory_saving = False

    @property
    def num_dims(self) -> int:
        return num_dims(self.config.in_channels, self.config.image_size)

    def latent_shapes(self) -> list[tuple[int, int, int]]:
        return [shape.latent_shape for shape in self.shapes]

    def _check_latents(self, latents: Sequence[Tensor]) -> None:
        expected = self.latent_shapes()
        actual = [tuple(z.shape[1:]) for z in latents]
        if actual != expected:
            raise ValueError(f"latents must have shapes {expected} (after the batch), got {actual}")

    def _random_latents(
        self,
        batch_size: int,
        temperature: float,
        generator: torch.Generator | None,
        like: Tensor,
    ) -> list[Tensor]:
        """`T * randn` for each latent, on `like`'s device and in its dtype."""
        return [
            temperature
            * torch.randn(batch_size, *s, generator=generator, device=like.device, dtype=like.dtype)
            for s in self.latent_shapes()
        ]

    def _initialize(self, *inputs: Tensor | None) -> None:
        """Run one encoding in training mode without gradients: every (conditional) actnorm
        initialises itself from the batch."""
        with torch.no_grad():
            was_training = self.training
            self.train()
            self._encode(*inputs)
            self.train(was_training)

    def _encode(self, *inputs: Tensor | None) -> Any:
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        save_model(self, directory)

    @classmethod
    def load(
        cls: type[FlowT], directory: str | Path, map_location: str | torch.device = "cpu"
    ) -> FlowT:
        """The model saved in `directory`, which must be a `cls` (or one of its subclasses)."""
        name, config = read_model_meta(directory)
        model_class = _subclass_named(cls, name)
        if model_class is None:
            raise UserInputError(f"{directory} holds a {name!r} model, not a {cls.__name__}")
        model = model_class(config_from_dict(model_class.config_class, config))
        load_weights(model, directory, map_location)
        return model.to(map_location)


def _subclass_named(cls: type[FlowT], name: str) -> type[FlowT] | None:
    if cls.__dict__.get("name") == name:
        return cls
    for subclass in cls.__subclasses__():
        found = _subclass_named(subclass, name)
        if found is not None:
            return found
    return None
