"""`augment` with candidates, selection rules, scores.jsonl and resuming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fullglow.data.image_io import read_rgb
from fullglow.data.labels import NUM_CLASSES
from fullglow.errors import UserInputError
from fullglow.models import build_model
from fullglow.segmenter.network import PSPNet, SegmenterConfig
from fullglow.synthesis import augment as augment_module
from fullglow.synthesis.augment import (
    augment_dataset,
    candidate_bits_per_dim,
    check_complete_augment,
    read_scores,
    reselect_augment,
)
from fullglow.synthesis.generation import model_condition, side_input, to_model
from fullglow.synthesis.images import photo_tensor
from fullglow.synthesis.seeds import derive_seed
from fullglow.synthesis.selection import rule_score, select_top
from fullglow.synthesis.splits import open_dataset_split
from tiny_models import SIZE, tiny_fullglow


@pytest.fixture(scope="module")
def model(synthetic_root: Path) -> nn.Module:
    return tiny_fullglow(synthetic_root)


@pytest.fixture(scope="module")
def labels(synthetic_root: Path):
    return open_dataset_split(synthetic_root, "train", SIZE, require_photos=False)


def _judge() -> nn.Module:
    torch.manual_seed(1)
    return nn.Conv2d(3, NUM_CLASSES, 1).eval()


def test_select_top_keeps_exactly_the_highest_scores() -> None:
    scores = [0.2, 0.9, None, 0.5, float("nan"), 0.9, 0.1]
    assert select_top(scores, 1) == [False, True, False, False, False, False, False]
    assert select_top(scores, 2) == [False, True, False, False, False, True, False]
    assert select_top(scores, 3) == [False, True, False, True, False, True, False]
    # Only 5 candidates have a score: no more than 5 can be kept.
    assert sum(select_top(scores, 7)) == 5
    # Likelihood ranks by low bits/dim, agreement by high mIoU.
    assert rule_score("likelihood", 3.0, 0.1) == -3.0
    assert rule_score("agreement", 3.0, 0.1) == 0.1


@pytest.mark.parametrize("select", ["likelihood", "agreement"])
def test_kept_candidates_are_the_top_n_by_recorded_score(
    model: nn.Module, labels, tmp_path: Path, select: str
) -> None:
    out = tmp_path / "aug"
    summary = augment_dataset(
        model, labels, out, per_label=4, keep=2, select=select, judge=_judge(), batch_size=3,
        save_rejected=True,
    )  # fmt: skip
    scores = read_scores(out)
    assert len(scores) == 4 * len(labels) and summary.kept == 2 * len(labels)
    for index in range(len(labels)):
        lines = sorted((s for s in scores if s.index == index), key=lambda s: s.candidate)
        key = [(-s.bits_per_dim if select == "likelihood" else s.agreement) for s in lines]
        best = sorted(range(4), key=lambda k: (-key[k], k))[:2]
        assert [s.kept for s in lines] == [k in best for k in range(4)]
        for line in lines:
            assert (out / line.file).is_file()
            assert line.file.startswith("leftImg8bit/" if line.kept else "rejected/")
    written = open_dataset_split(out, "train", SIZE)
    assert sorted(r.stem for r in written.records) == sorted(
        f"{Path(s.file).name.split('_leftImg8bit')[0]}" for s in scores if s.kept
    )
    check_complete_augment(out)


def test_recorded_bits_per_dim_equal_a_recomputed_log_prob(
    model: nn.Module, labels, tmp_path: Path
) -> None:
    out = tmp_path / "aug"
    augment_dataset(model, labels, out, per_label=2, keep=1, select="likelihood", batch_size=4,
                    save_rejected=True)  # fmt: skip
    n_bits, dims = int(model.config.n_bits), model.num_dims
    for line in read_scores(out):
        sample = labels[line.index]
        photo = photo_tensor(read_rgb(out / line.file))
        generator = torch.Generator().manual_seed(
            derive_seed(line.seed, line.candidate, line.index)
        )
        noise = torch.rand(photo.shape, generator=generator)
        x = (torch.floor(photo * 256).clamp(max=255) + noise) / 256
        cond = model_condition(model, sample.label_colour[None])
        side = side_input(model, to_model(model, sample.boundary[None]))
        with torch.no_grad():
            log_prob = float(model.log_prob(x[None], cond, side))
        expected = (-log_prob + dims * np.log(2**n_bits)) / (dims * np.log(2))
        assert line.bits_per_dim == pytest.approx(expected, abs=1e-4)
        again = candidate_bits_per_dim(
            model, photo[None], cond, side, [derive_seed(0, line.candidate, line.index)]
        )
        assert float(again) == pytest.approx(
            line.bits_per_dim, abs=1e-5
        )  # float32, batch of 4 vs 1


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_interrupted_augment_resumed_equals_an_uninterrupted_one(
    model: nn.Module, labels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dict(per_label=3, keep=1, select="agreement", batch_size=3, save_rejected=True)
    whole = tmp_path / "whole"
    augment_dataset(model, labels, whole, judge=_judge(), **settings)
    calls = {"n": 0}
    real_generate = augment_module.generate

    def crash_on_the_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # batch 1, candidate 1: batch 0 is done, batch 1 half generated
            raise KeyboardInterrupt
        return real_generate(*args, **kwargs)

    cut = tmp_path / "cut"
    monkeypatch.setattr(augment_module, "generate", crash_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        augment_dataset(model, labels, cut, judge=_judge(), **settings)
    assert len(read_scores(cut)) == 3 * 3
    with pytest.raises(UserInputError, match="unfinished augment"):
        check_complete_augment(cut)
    # A line cut short by the crash is dropped on resume.
    with open(cut / "scores.jsonl", "a") as handle:
        handle.write('{"batch": 1, "ind')
    monkeypatch.setattr(augment_module, "generate", real_generate)
    resumed = augment_dataset(model, labels, cut, judge=_judge(), **settings)
    assert resumed.generated == 3 * (len(labels) - 3)
    assert _tree(cut) == _tree(whole)


def test_bad_selection_inputs_are_one_line_errors(
    model: nn.Module, labels, synthetic_root: Path, tmp_path: Path
) -> None:
    pix2pix = build_model("pix2pix", "tiny", image_size=(32, 64)).eval()
    big_labels = open_dataset_split(synthetic_root, "train", (32, 64), require_photos=False)
    with pytest.raises(UserInputError, match="no likelihood"):
        augment_dataset(
            pix2pix, big_labels, tmp_path / "a", per_label=2, keep=1, select="likelihood"
        )
    with pytest.raises(UserInputError, match="needs a judge"):
        augment_dataset(model, labels, tmp_path / "b", per_label=2, keep=1, select="agreement")
    with pytest.raises(UserInputError, match="--keep"):
        augment_dataset(model, labels, tmp_path / "c", per_label=2, keep=3, select="likelihood")
    wrong_classes = nn.Conv2d(3, NUM_CLASSES - 1, 1).eval()
    with pytest.raises(UserInputError, match="classes"):
        augment_dataset(model, labels, tmp_path / "d", per_label=2, keep=1, select="agreement",
                        judge=wrong_classes)  # fmt: skip
    trained_elsewhere = PSPNet(SegmenterConfig(width=8, image_size=(32, 64))).eval()
    with pytest.raises(UserInputError, match="trained on 32x64 photos, the model makes 16x32"):
        augment_dataset(model, labels, tmp_path / "d", per_label=2, keep=1, select="agreement",
                        judge=trained_elsewhere)  # fmt: skip
    halves = nn.Conv2d(3, NUM_CLASSES, 2, stride=2).eval()
    with pytest.raises(UserInputError, match="photo.s size.*returns \\(1, 19, 8, 16\\)"):
        augment_dataset(model, labels, tmp_path / "d", per_label=2, keep=1, select="agreement",
                        judge=halves)  # fmt: skip
    assert not any((tmp_path / name).exists() for name in "abcd")
    out = tmp_path / "e"
    augment_dataset(model, labels, out, per_label=1, batch_size=4)
    with pytest.raises(UserInputError, match="other settings"):
        augment_dataset(model, labels, out, per_label=2, batch_size=4)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.txt").write_text("mine")
    with pytest.raises(UserInputError, match="already exists"):
        augment_dataset(model, labels, tmp_path / "f", per_label=1)


def test_reselecting_a_finished_folder_equals_augmenting_with_that_rule(
    model: nn.Module, labels, tmp_path: Path
) -> None:
    settings = dict(per_label=3, batch_size=3, save_rejected=True, judge=_judge())
    augment_dataset(model, labels, tmp_path / "by-likelihood", select="likelihood", keep=1,
                    **settings)  # fmt: skip
    for select, keep in (("agreement", 2), ("all", 3)):
        direct = tmp_path / f"direct-{select}"
        augment_dataset(model, labels, direct, select=select, keep=keep, **settings)
        again = tmp_path / f"again-{select}"
        summary = reselect_augment(tmp_path / "by-likelihood", again, select, keep)
        photos, direct_photos = _tree(again), _tree(direct)
        for tree in (photos, direct_photos):
            del tree["augment.json"], tree["scores.jsonl"]
        assert photos == direct_photos
        lines = read_scores(again)
        direct_lines = read_scores(direct)
        assert [(s.kept, s.file, s.agreement) for s in lines] == [
            (s.kept, s.file, s.agreement) for s in direct_lines
        ]
        # the direct run scores bits/dim only when its rule ranks by them
        assert all(s.bits_per_dim is not None for s in lines)
        assert summary.kept == sum(s.kept for s in direct_lines) > 0
    check_complete_augment(again)
    with pytest.raises(UserInputError, match="already exists"):
        reselect_augment(tmp_path / "by-likelihood", again, "agreement", 1)
    augment_dataset(model, labels, tmp_path / "no-judge", select="likelihood", keep=1,
                    per_label=2, save_rejected=True)  # fmt: skip
    with pytest.raises(UserInputError, match="needs a judge"):
        reselect_augment(tmp_path / "no-judge", tmp_path / "x", "agreement", 1)
    augment_dataset(model, labels, tmp_path / "dropped", select="likelihood", keep=1,
                    per_label=2)  # fmt: skip
    with pytest.raises(UserInputError, match="did not save its rejected"):
        reselect_augment(tmp_path / "dropped", tmp_path / "y", "agreement", 1)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
