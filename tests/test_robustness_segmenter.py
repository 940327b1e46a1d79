"""Segmenter files that cannot be used are refused with what they are and what is needed instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.export import Dim

from fullglow.errors import UserInputError
from fullglow.segmenter.loading import check_segmenter, load_segmenter

SIZE = (24, 40)


def _network(classes: int = 19) -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, classes, 3, padding=1).eval()


@pytest.mark.parametrize("name", ["seg.pth", "seg.pt2"])
def test_a_state_dict_is_named_and_the_export_recipe_given(tmp_path: Path, name: str) -> None:
    torch.save(_network().state_dict(), tmp_path / name)
    with pytest.raises(UserInputError, match=r"is a state dict .* \.pt2 file: torch\.export"):
        load_segmenter(tmp_path / name)


def test_a_legacy_state_dict_is_named(tmp_path: Path) -> None:
    path = tmp_path / "seg.pth"
    torch.save(_network().state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(UserInputError, match="is a state dict"):
        load_segmenter(path)


def test_a_pickled_network_is_named(tmp_path: Path) -> None:
    torch.save(_network(), tmp_path / "seg.pth")
    with pytest.raises(UserInputError, match=r"pickled network .* Dim\.AUTO"):
        load_segmenter(tmp_path / "seg.pth")


def test_twenty_outputs_get_the_hint_to_drop_the_extra_logit() -> None:
    with pytest.raises(UserInputError, match=r"returns 20 logits .* logits\[:, :19\]"):
        check_segmenter(_network(20), SIZE, 19, "cpu")


def _export(tmp_path: Path, photos: torch.Tensor, shapes: object, name: str) -> nn.Module:
    program = torch.export.export(_network(), (photos,), dynamic_shapes=shapes)
    torch.export.save(program, tmp_path / name)
    return load_segmenter(tmp_path / name)


def test_a_fixed_size_export_names_its_size_and_the_size_asked(tmp_path: Path) -> None:
    photos = torch.rand(2, 3, *SIZE)
    fixed_size = _export(tmp_path, photos, ({0: Dim("batch")},), "size.pt2")
    check_segmenter(fixed_size, SIZE, 19, "cpu")
    with pytest.raises(
        UserInputError, match="exported for 24x40 photos .* not the 16x32 asked"
    ) as e:
        check_segmenter(fixed_size, (16, 32), 19, "cpu")
    assert "fixed batch" not in str(e.value)


def test_a_fixed_batch_export_gets_its_hint_whichever_check_fails_first(tmp_path: Path) -> None:
    fixed = _export(tmp_path, torch.rand(1, 3, *SIZE), None, "fixed.pt2")
    for size in (SIZE, (16, 32)):  # the batch of two fails first at SIZE, the size at 16x32
        with pytest.raises(UserInputError, match="fixed batch of 1 .* dynamic batch"):
            check_segmenter(fixed, size, 19, "cpu")


def test_the_recipe_export_runs_at_any_size(tmp_path: Path) -> None:
    photos = torch.rand(2, 3, *SIZE)
    shapes = ({0: Dim("batch"), 2: Dim.AUTO, 3: Dim.AUTO},)
    exported = _export(tmp_path, photos, shapes, "dynamic.pt2")
    network = _network()
    for size in (SIZE, (16, 32)):
        check_segmenter(exported, size, 19, "cpu")
        other = torch.rand(3, 3, *size)
        torch.testing.assert_close(exported(other), network(other))
