"""The Cityscapes label table and its look-ups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fullglow.data import IGNORE_INDEX, NUM_CLASSES
from fullglow.data.labels import (
    LABEL_BY_NAME,
    LABELS,
    TRAIN_LABELS,
    colourize_train_ids,
    colours_to_label_ids,
    label_ids_to_colours,
    label_ids_to_train_ids,
    train_ids_to_colours,
)
from fullglow.errors import UserInputError


@pytest.mark.parametrize(
    ("name", "label_id", "train_id", "colour"),
    [
        ("road", 7, 0, (128, 64, 128)),
        ("sidewalk", 8, 1, (244, 35, 232)),
        ("building", 11, 2, (70, 70, 70)),
        ("vegetation", 21, 8, (107, 142, 35)),
        ("sky", 23, 10, (70, 130, 180)),
        ("person", 24, 11, (220, 20, 60)),
        ("car", 26, 13, (0, 0, 142)),
        ("bicycle", 33, 18, (119, 11, 32)),
        ("unlabeled", 0, 255, (0, 0, 0)),
        ("parking", 9, 255, (250, 170, 160)),
    ],
)
def test_official_rows(name, label_id, train_id, colour):
    ids = np.array([[label_id]], dtype=np.uint8)
    train_ids = label_ids_to_train_ids(ids)
    assert LABEL_BY_NAME[name].id == label_id
    assert train_ids[0, 0] == train_id
    assert tuple(label_ids_to_colours(ids)[0, 0]) == colour
    expected_train_colour = colour if train_id != IGNORE_INDEX else (0, 0, 0)
    assert tuple(train_ids_to_colours(train_ids)[0, 0]) == expected_train_colour


def test_table_covers_ids_0_to_33_and_19_train_classes():
    assert [label.id for label in LABELS] == list(range(34))
    assert [label.train_id for label in TRAIN_LABELS] == list(range(NUM_CLASSES))


def test_look_ups_match_the_table_for_every_id_on_numpy_and_torch():
    ids = np.arange(34, dtype=np.uint8).reshape(2, 17)
    expected_train = np.array([label.train_id for label in LABELS]).reshape(2, 17)
    expected_colour = np.array([label.colour for label in LABELS]).reshape(2, 17, 3)
    np.testing.assert_array_equal(label_ids_to_train_ids(ids), expected_train)
    np.testing.assert_array_equal(label_ids_to_colours(ids), expected_colour)
    as_tensor = label_ids_to_train_ids(torch.from_numpy(ids).long())
    assert torch.equal(as_tensor.long(), torch.from_numpy(expected_train))


def test_colours_invert_to_ids_keeping_train_ids():
    ids = np.arange(34, dtype=np.uint8)
    back = colours_to_label_ids(label_ids_to_colours(ids))
    # shared colours resolve to the evaluated class or the lowest id: black -> 0, grey -> pole
    assert back[4] == 0 and back[18] == LABEL_BY_NAME["pole"].id
    unique = [label.id for label in LABELS if sum(r.colour == label.colour for r in LABELS) == 1]
    np.testing.assert_array_equal(back[unique], unique)
    polegroup = LABEL_BY_NAME["polegroup"].id
    others = ids != polegroup
    np.testing.assert_array_equal(
        label_ids_to_train_ids(back)[others], label_ids_to_train_ids(ids)[others]
    )


def test_unknown_values_are_refused_with_where_and_what():
    with pytest.raises(UserInputError, match=r"frame\.png.*34, 200"):
        label_ids_to_train_ids(np.array([7, 34, 200, 34], dtype=np.uint8), where="frame.png")
    with pytest.raises(UserInputError, match=r"-1"):
        label_ids_to_colours(torch.tensor([-1, 7]))
    with pytest.raises(UserInputError, match=r"19"):
        train_ids_to_colours(np.array([0, 19, 255]))
    colours = np.array([[[128, 64, 128], [1, 2, 3], [1, 2, 3]]], dtype=np.uint8)
    with pytest.raises(UserInputError, match=r"map\.png: 2 pixels .*\(1, 2, 3\)"):
        colours_to_label_ids(colours, where="map.png")


def test_colourize_train_ids_renders_batches_as_float_images():
    train_ids = torch.tensor([[[0, 13], [255, 10]]])  # (1, 2, 2)
    image = colourize_train_ids(train_ids)
    assert image.shape == (1, 3, 2, 2) and image.dtype == torch.float32
    assert torch.allclose(image[0, :, 0, 1] * 255, torch.tensor([0.0, 0.0, 142.0]))
    assert torch.equal(image[0, :, 1, 0], torch.zeros(3))
