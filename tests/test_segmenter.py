"""The PSPNet segmenter: shapes, TorchScript and directory round trips, checks, training."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from fullglow.cli import main
from fullglow.errors import UserInputError
from fullglow.segmenter.loading import check_segmenter, load_segmenter, save_segmenter
from fullglow.segmenter.network import PSPNet, SegmenterConfig, predict
from fullglow.segmenter.training import (
    balanced_class_weights,
    segmentation_loss,
    train_segmenter,
)

SMALL = SegmenterConfig(width=8, image_size=(24, 40))


class Pair(NamedTuple):
    photo: torch.Tensor
    train_ids: torch.Tensor


class BlockScenes(Dataset):
    """Photos made of coloured vertical bands, one colour per class, with a few ignore pixels."""

    def __init__(self, count: int, size: tuple[int, int]) -> None:
        generator = torch.Generator().manual_seed(1)
        palette = torch.rand(19, 3, generator=generator)
        bands = torch.randint(0, 19, (count, 5), generator=generator)
        ids = bands.repeat_interleave(-(-size[1] // 5), dim=1)[:, : size[1]]
        self.train_ids = ids[:, None, :].expand(count, size[0], size[1]).clone()
        self.photos = palette[self.train_ids].permute(0, 3, 1, 2).contiguous()
        self.train_ids[:, 0, :3] = 255

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> Pair:
        return Pair(self.photos[index], self.train_ids[index])


@pytest.fixture(scope="module")
def model() -> PSPNet:
    torch.manual_seed(0)
    net = PSPNet(SMALL)
    # Non-trivial batch-norm statistics, so that a round trip that drops buffers is caught.
    net.train()
    with torch.no_grad():
        net(torch.rand(4, 3, 24, 40))
    return net.eval()


@pytest.mark.parametrize("size", [(24, 40), (40, 24), (33, 50)])
def test_logits_have_the_photo_size(model, size):
    logits = model(torch.rand(2, 3, *size))
    assert logits.shape == (2, 19, *size)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("stages, skips", [(1, 0), (2, 0), (2, 1), (4, 3)])
def test_every_depth_and_skip_count_keeps_the_photo_size(stages, skips):
    net = PSPNet(SegmenterConfig(width=4, num_stages=stages, skip_scores=skips)).eval()
    assert len(net.skips) == skips
    assert net(torch.rand(1, 3, 20, 36)).shape == (1, 19, 20, 36)


def test_invalid_config_is_a_user_error():
    with pytest.raises(UserInputError, match="skip_scores=2"):
        SegmenterConfig(num_stages=2, skip_scores=2)
    with pytest.raises(UserInputError, match="pool_bins"):
        SegmenterConfig(pool_bins=(1, 0))


def test_balanced_class_weights_hand_computed():
    # f = (3/4, 1/4, 0): w ~ f^-1/2 = (2/sqrt(3), 2, 0), normalised so that sum_k f_k w_k = 1.
    weights = balanced_class_weights(torch.tensor([3, 1, 0]), 0.5)
    norm = 3 / 4 * 2 / 3**0.5 + 1 / 4 * 2
    assert weights.tolist() == pytest.approx([2 / 3**0.5 / norm, 2 / norm, 0.0])
    assert balanced_class_weights(torch.tensor([5, 2, 0]), 0.0).tolist() == [1.0, 1.0, 0.0]
    # power 1 gives every seen class the same total weight f_k w_k.
    totals = balanced_class_weights(torch.tensor([6, 3, 1]), 1.0) * torch.tensor([6, 3, 1]) / 10
    assert totals.tolist() == pytest.approx([1 / 3] * 3)


def test_segmentation_loss_averages_over_labelled_pixels():
    logits = torch.randn(2, 19, 4, 5)
    ids = torch.randint(0, 19, (2, 4, 5))
    ids[0, 0] = 255
    assert segmentation_loss(logits, ids) == pytest.approx(
        F.cross_entropy(logits, ids, ignore_index=255).item(), rel=1e-6
    )
    weights = torch.rand(19)
    per_pixel = (
        F.cross_entropy(logits, ids.clamp(max=18), reduction="none") * weights[ids.clamp(max=18)]
    )
    expected = per_pixel[ids != 255].mean()
    assert segmentation_loss(logits, ids, weights) == pytest.approx(expected.item(), rel=1e-6)
    assert segmentation_loss(logits, torch.full_like(ids, 255)) == 0


def test_directory_round_trip_gives_identical_logits(model, tmp_path):
    photos = torch.rand(3, 3, 24, 40)
    path = save_segmenter(model, tmp_path / "seg", info={"note": "test"})
    assert sorted(p.name for p in path.iterdir()) == ["segmenter.json", "segmenter.safetensors"]
    loaded = load_segmenter(path)
    assert isinstance(loaded, PSPNet) and loaded.config == SMALL
    assert torch.equal(loaded(photos), model(photos))
    # Saving again replaces the directory in place, leaving no temporary files behind.
    save_segmenter(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_file_loads_with_identical_logits(model, tmp_path):
    photos = torch.rand(2, 3, 24, 40)
    torch.jit.save(torch.jit.script(model), str(tmp_path / "seg.pt"))
    loaded = load_segmenter(tmp_path / "seg.pt")
    check_segmenter(loaded, (24, 40), 19, "cpu")
    assert torch.equal(loaded(photos), model(photos))


def test_exported_program_loads_with_identical_logits(model, tmp_path):
    photos = torch.rand(3, 3, 24, 40)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model.eval(), (photos,), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "seg.pt2")
    loaded = load_segmenter(tmp_path / "seg.pt2")
    check_segmenter(loaded, (24, 40), 19, "cpu")
    assert torch.equal(loaded(photos), model(photos))
    assert torch.equal(predict(loaded, photos, batch_size=2), model(photos).argmax(dim=1))
    # Exported with a fixed batch of one: refused up front, with the fix in the message.
    single = torch.export.export(model.eval(), (photos[:1],))
    torch.export.save(single, tmp_path / "single.pt2")
    with pytest.raises(UserInputError, match="fixed batch of 1 .* dynamic batch"):
        check_segmenter(load_segmenter(tmp_path / "single.pt2"), (24, 40), 19, "cpu")
    (tmp_path / "junk.pt2").write_text("not a program")
    with pytest.raises(UserInputError, match="junk.pt2 is not a torch.export program"):
        load_segmenter(tmp_path / "junk.pt2")


def test_check_segmenter_rejects_wrong_class_count_and_size(model):
    check_segmenter(model, (24, 40), 19, "cpu")
    with pytest.raises(UserInputError, match=r"\(1, 19, 24, 40\).*\(1, 7, 24, 40\)"):
        check_segmenter(PSPNet(SegmenterConfig(width=8, num_classes=7)), (24, 40), 19, "cpu")
    half_size = torch.nn.Conv2d(3, 19, 3, stride=2, padding=1)
    with pytest.raises(UserInputError, match=r"\(1, 19, 24, 40\).*\(1, 19, 12, 20\)"):
        check_segmenter(half_size, (24, 40), 19, "cpu")
    with pytest.raises(UserInputError, match="fails"):
        check_segmenter(torch.nn.Conv2d(1, 19, 1), (24, 40), 19, "cpu")


def test_load_segmenter_rejects_bad_paths(model, tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_segmenter(tmp_path / "missing")
    (tmp_path / "junk.pt").write_text("not a network")
    with pytest.raises(UserInputError, match="TorchScript"):
        load_segmenter(tmp_path / "junk.pt")
    with pytest.raises(UserInputError, match="19 classes, expected 5"):
        load_segmenter(save_segmenter(model, tmp_path / "seg"), num_classes=5)
    with pytest.raises(UserInputError, match="not a segmenter directory"):
        save_segmenter(model, tmp_path / "junk.pt")


def test_predict_is_argmax_in_batches(model):
    photos = torch.rand(5, 3, 24, 40)
    ids = predict(model, photos, batch_size=2)
    assert ids.shape == (5, 24, 40) and ids.dtype == torch.int64
    assert torch.equal(ids, model(photos).argmax(dim=1))


def test_training_on_a_fixed_batch_lowers_the_loss_and_scores_it(tmp_path):
    data = BlockScenes(4, SMALL.image_size)
    report = train_segmenter(
        data, SMALL, steps=40, batch_size=4, lr=3e-3, device="cpu", seed=0,
        out_dir=tmp_path / "seg", val_dataset=data,
    )  # fmt: skip
    assert len(report.losses) == report.steps == 40
    assert report.final_loss < 0.5 * report.losses[0]
    assert report.val_scores is not None and report.val_scores.pixel_accuracy > 0.5
    reloaded = load_segmenter(report.path)
    assert isinstance(reloaded, PSPNet)


def test_training_is_deterministic_for_a_seed(tmp_path):
    data = BlockScenes(6, SMALL.image_size)
    runs = [
        train_segmenter(data, SMALL, 3, 4, 1e-3, "cpu", seed=7, out_dir=tmp_path / f"seg{i}")
        for i in range(2)
    ]
    assert runs[0].losses == runs[1].losses
    weights = [load_segmenter(run.path).state_dict() for run in runs]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_training_rejects_photos_of_another_size(tmp_path):
    data = BlockScenes(2, (16, 16))
    with pytest.raises(UserInputError, match="image_size"):
        train_segmenter(data, SMALL, 2, 2, 1e-3, "cpu", seed=0, out_dir=tmp_path / "seg")
    assert not (tmp_path / "seg").exists()


def test_cli_trains_scores_and_writes_a_loadable_segmenter(synthetic_root, tmp_path, capsys):
    out = tmp_path / "seg"
    argv = ["train-segmenter", "--data", str(synthetic_root), "--out", str(out), "--steps", "2",
            "--batch-size", "4", "--image-size", "32x64", "--width", "8"]  # fmt: skip
    assert main(argv) == 0
    assert "val, 4 real photos: pixel acc" in capsys.readouterr().out
    model = load_segmenter(out)
    assert model.config.image_size == (32, 64)
    check_segmenter(model, (32, 64), 19, "cpu")


def test_cli_reports_a_missing_dataset_without_traceback(tmp_path, capsys):
    argv = ["train-segmenter", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err
