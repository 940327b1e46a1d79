"""One set of weights at another image size: `at_image_size(model, (H, W))`.

A flow's layers are convolutions (the same at every size) except the paper's conditioning
networks of the actnorm and 1x1 convolution, which flatten the whole feature map into a fully
connected layer. With pooled conditioning (`ConditioningConfig.pool_size`) nothing depends on the
size, and a model trained at one size samples and scores at any other divisible by
`2**n_blocks`: the model is rebuilt from its config with the new `image_size` and given the same
weight tensors.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def at_image_size(model: ModuleT, image_size: tuple[int, int]) -> ModuleT:
    """`model` at `image_size` `(H, W)`, sharing its weight tensors (in place training of one is
    seen by the other), in the same train/eval mode; `model` itself when the size is its own.

    Raises:
        ValueError: a size the model's geometry refuses (not divisible by `2**n_blocks`), or a
            model whose weights depend on its size (the paper's flattening conditioning).
    """
    config = model.config
    image_size = (int(image_size[0]), int(image_size[1]))
    if tuple(config.image_size) == image_size:
        return model
    resized = type(model)(dataclasses.replace(config, image_size=image_size))
    state = model.state_dict()
    mismatched = [
        name
        for name, tensor in resized.state_dict().items()
        if name in state and state[name].shape != tensor.shape
    ]
    if mismatched:
        height, width = config.image_size
        raise ValueError(
            f"this {type(model).__name__} is tied to its size {height}x{width} "
            f"({len(mismatched)} weights change shape at {image_size[0]}x{image_size[1]}, e.g. "
            f"{mismatched[0]}): build it with pooled conditioning (conditioning pool_size) to "
            "run it at other sizes"
        )
    resized.load_state_dict(state, assign=True)
    resized.memory_saving = getattr(model, "memory_saving", False)
    return resized.train(model.training)
