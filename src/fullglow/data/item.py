"""The one sample type every dataset yields, and how it is assembled from decoded arrays."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class Sample(NamedTuple):
    """One training pair with its evaluation labels and side information.

    `torch.utils.data.default_collate` stacks a list of samples into a `Sample` of batched
    tensors (a leading batch dimension `B` on every field).

    Attributes:
        photo: `(3, H, W)` float32 in [0, 1], the target image `x_b`.
        label_colour: `(3, H, W)` float32 in [0, 1], the source image `x_a` (colour label map).
        train_ids: `(H, W)` int64, 0..18, `IGNORE_INDEX = 255` where not evaluated.
        boundary: `(1, H, W)` float32 in {0, 1}, instance boundaries (the paper's side information).
    """

    photo: Tensor
    label_colour: Tensor
    train_ids: Tensor
    boundary: Tensor


def instance_boundaries(instance_ids: np.ndarray) -> np.ndarray:
    """Instance edges `(H, W)` bool: pixels whose id differs from a 4-neighbour's.

    Both pixels of every differing neighbour pair are marked, as in pix2pixHD's edge map, so an
    edge is two pixels wide and lies on both objects.
    """
    edge = np.zeros(instance_ids.shape, dtype=bool)
    vertical = instance_ids[1:, :] != instance_ids[:-1, :]
    horizontal = instance_ids[:, 1:] != instance_ids[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def _image_tensor(image: np.ndarray) -> Tensor:
    """`(H, W, 3)` uint8 -> `(3, H, W)` float32 in [0, 1]."""
    return (
        torch.from_numpy(np.require(image, requirements="CW")).permute(2, 0, 1).float().div_(255.0)
    )


def make_sample(
    photo: np.ndarray,
    label_colour: np.ndarray,
    train_ids: np.ndarray,
    boundary: np.ndarray,
    flip: bool,
) -> Sample:
    """Convert decoded arrays (`(H, W, 3)` uint8 images, `(H, W)` ids and mask) into a `Sample`.

    `flip` mirrors every part alike (a horizontal flip along W).
    """
    sample = Sample(
        photo=_image_tensor(photo),
        label_colour=_image_tensor(label_colour),
        train_ids=torch.from_numpy(np.require(train_ids, requirements="CW")).long(),
        boundary=torch.from_numpy(np.require(boundary, requirements="CW")).float().unsqueeze(0),
    )
    if flip:
        return Sample(*(part.flip(-1) for part in sample))
    return sample
