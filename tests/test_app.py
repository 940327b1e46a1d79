"""The app's handlers without a browser (and without Gradio): snapping, uploads, sampling, zips."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fullglow.app import canvas, synthesis
from fullglow.app.canvas import (
    canvas_image,
    canvas_to_label,
    check_class_colours,
    empty_scene,
    fit_to_model,
    paint_scale,
    read_uploaded_label,
    snap_to_classes,
)
from fullglow.app.handlers import PageHandlers
from fullglow.app.synthesis import SamplingSettings, sample_photos, transfer_content
from fullglow.data.cityscapes import CityscapesDataset
from fullglow.data.labels import LABEL_BY_NAME, label_ids_to_colours, label_ids_to_train_ids
from fullglow.errors import UserInputError
from fullglow.likelihood import bits_per_dim, dequantize
from fullglow.models.registry import build_model
from fullglow.synthesis.images import to_uint8
from fullglow.synthesis.seeds import derive_seed
from fullglow.synthesis.transfer import content_transfer
from fullglow.training.config import CONFIG_FILE, TrainConfig
from fullglow.training.runs import RunOptions

CAR, ROAD, SKY = (LABEL_BY_NAME[name] for name in ("car", "road", "sky"))


def _initialised(name: str, **options: object) -> torch.nn.Module:
    model = build_model(name, preset="tiny", **options)
    if model.has_likelihood:
        size = model.config.image_size
        model.initialize(torch.rand(2, 3, *size), torch.rand(2, 3, *size))
    return model.eval()


@pytest.fixture(scope="module")
def flow() -> torch.nn.Module:
    torch.manual_seed(0)
    return _initialised("fullglow", image_size=(16, 32))


@pytest.fixture
def handlers(flow: torch.nn.Module, tmp_path: Path) -> PageHandlers:
    return PageHandlers(flow, None, tmp_path)


def _painted(value_ids: np.ndarray, size: tuple[int, int]) -> dict:
    image = canvas_image(value_ids, size)
    return {"background": image, "layers": [], "composite": image}


def test_antialiased_brush_edges_snap_to_one_of_the_two_classes() -> None:
    car, road = np.array(CAR.colour, float), np.array(ROAD.colour, float)
    weights = np.linspace(0, 1, 11)
    blends = np.round(weights[:, None] * car + (1 - weights[:, None]) * road).astype(np.uint8)
    ids, distance = snap_to_classes(blends[None])
    assert set(ids[0].tolist()) == {CAR.id, ROAD.id}
    assert ids[0, 0] == ROAD.id and ids[0, -1] == CAR.id
    # each pixel goes to the nearer of the two colours
    nearer_car = np.linalg.norm(blends - car, axis=1) < np.linalg.norm(blends - road, axis=1)
    assert (ids[0] == CAR.id).tolist() == nearer_car.tolist()
    assert distance[0, 0] == 0 and distance[0, -1] == 0


def test_every_palette_colour_snaps_to_its_own_class() -> None:
    colours = np.array([[label.colour for label in canvas.PALETTE]], dtype=np.uint8)
    ids, _ = snap_to_classes(colours)
    assert ids[0].tolist() == [label.id for label in canvas.PALETTE]


def test_a_canvas_stroke_lands_on_the_model_pixels_under_it() -> None:
    size = (16, 32)
    scale = paint_scale(size)
    assert scale == 16  # 512 // 32
    painted = canvas_image(empty_scene(size), size).copy()
    painted[10 * scale : 12 * scale, 4 * scale : 20 * scale] = CAR.colour  # rows 10-11, cols 4-19
    ids = canvas_to_label(painted, size)
    rows, cols = np.nonzero(ids == CAR.id)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 11, 4, 19)
    assert ids[0, 0] == SKY.id and ids[-1, 0] == ROAD.id


def _write(path: Path, array: np.ndarray, **options: object) -> Path:
    Image.fromarray(array).save(path, **options)
    return path


def test_uploaded_label_ids_and_colour_labels_read_the_same(tmp_path: Path) -> None:
    ids = empty_scene((8, 16))
    ids[5:7, 2:6] = CAR.id
    from_ids = read_uploaded_label(_write(tmp_path / "x_gtFine_labelIds.png", ids))
    from_colours = read_uploaded_label(_write(tmp_path / "c.png", label_ids_to_colours(ids)))
    np.testing.assert_array_equal(from_ids, ids)
    np.testing.assert_array_equal(from_colours, ids)


def test_a_jpeg_colour_label_snaps_back_to_its_classes(tmp_path: Path) -> None:
    ids = np.repeat(np.repeat(empty_scene((8, 16)), 8, 0), 8, 1)
    path = _write(tmp_path / "c.jpg", label_ids_to_colours(ids), quality=90)
    read = read_uploaded_label(path)
    assert (read == ids).mean() > 0.98


def test_uploads_that_are_not_labels_are_refused_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UserInputError, match="not an image"):
        read_uploaded_label(text)
    bad_ids = np.full((4, 4), 40, dtype=np.uint8)
    with pytest.raises(UserInputError, match="outside the Cityscapes table"):
        read_uploaded_label(_write(tmp_path / "ids.png", bad_ids))
    colours = label_ids_to_colours(empty_scene((8, 8))).copy()
    colours[:2] = (10, 200, 10)  # a green no class has
    with pytest.raises(
        UserInputError, match=r"far from every class colour, e\.g\. \(10, 200, 10\)"
    ):
        read_uploaded_label(_write(tmp_path / "green.png", colours))
    monkeypatch.setattr(canvas, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(UserInputError, match="larger than"):
        read_uploaded_label(
            _write(tmp_path / "big.png", np.random.randint(0, 255, (64, 64, 3), np.uint8))
        )


def test_a_few_stray_pixels_are_allowed_in_a_colour_label() -> None:
    colours = label_ids_to_colours(empty_scene((40, 50))).copy()
    colours[0, :5] = (10, 200, 10)  # 5 of 2000 pixels: 0.25 %
    ids = check_class_colours(colours, "label")
    assert ids[0, 0] == LABEL_BY_NAME["vegetation"].id and ids[1, 0] == SKY.id


def test_labels_of_another_size_are_resized_with_a_note() -> None:
    ids = empty_scene((64, 64))
    fitted = fit_to_model(ids, (16, 32), "the upload")
    assert fitted.label_ids.shape == (16, 32)
    assert "64x64" in fitted.note and "another aspect" in fitted.note
    assert fit_to_model(ids[:, :], (64, 64), "x").note == ""
    assert "another aspect" not in fit_to_model(empty_scene((32, 64)), (16, 32), "x").note


def test_samples_are_the_models_own_and_their_bpd_its_log_prob(flow: torch.nn.Module) -> None:
    ids = empty_scene((16, 32))
    photos = sample_photos(flow, ids, SamplingSettings(temperature=0.7, count=3, seed=5))
    assert photos.images.shape == (3, 16, 32, 3) and photos.images.dtype == np.uint8
    cond = torch.from_numpy(label_ids_to_colours(ids)).permute(2, 0, 1).float()[None] / 255
    cond = cond.repeat(3, 1, 1, 1)
    expected = flow.sample(cond, temperature=0.7, generator=torch.Generator().manual_seed(5))
    expected = (expected.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(photos.images, expected)
    saved = torch.from_numpy(photos.images).permute(0, 3, 1, 2).float() / 255
    x = torch.stack(
        [dequantize(photo, generator=torch.Generator().manual_seed(derive_seed(5, k)))
         for k, photo in enumerate(saved)]
    )  # fmt: skip
    with torch.no_grad():
        bpd = bits_per_dim(flow.log_prob(x, cond), flow.num_dims)
    np.testing.assert_allclose(photos.bits_per_dim, bpd.numpy(), rtol=1e-5)
    assert photos.captions()[0] == f"sample 1: {bpd[0]:.2f} bits/dim"
    again = sample_photos(flow, ids, SamplingSettings(temperature=0.7, count=3, seed=5))
    np.testing.assert_array_equal(again.images, photos.images)


def test_pix2pix_samples_have_no_bpd(tmp_path: Path) -> None:
    model = _initialised("pix2pix")
    photos = sample_photos(model, empty_scene((32, 32)), SamplingSettings(count=2))
    assert photos.images.shape == (2, 32, 32, 3) and photos.bits_per_dim is None
    assert photos.captions() == ["sample 1", "sample 2"]
    with pytest.raises(UserInputError, match="needs a flow"):
        PageHandlers(model, None, tmp_path).load_content(None, None)


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"count": 0}, "number of samples"), ({"temperature": -1.0}, "temperature"),
     ({"seed": -3}, "seed")],
)  # fmt: skip
def test_bad_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        SamplingSettings(**settings)


def test_the_zip_is_a_cityscapes_split_that_the_dataset_reads_back(
    handlers: PageHandlers, tmp_path: Path
) -> None:
    size = handlers.image_size
    ids = empty_scene(size)
    ids[10:13, 3:12] = CAR.id
    result = handlers.generate(_painted(ids, size), 0.8, 3, 1)
    root = tmp_path / "unzipped"
    with zipfile.ZipFile(result.zip_path) as archive:
        archive.extractall(root)
    dataset = CityscapesDataset(root, "train")
    assert len(dataset) == 3
    for k in range(3):
        sample = dataset[k]
        np.testing.assert_array_equal(sample.train_ids.numpy(), label_ids_to_train_ids(ids))
        photo = (sample.photo.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        np.testing.assert_array_equal(photo, result.photos.images[k])
        assert dataset.records[k].colour_path is not None
    assert result.zip_path.parent.parent == tmp_path


def test_handlers_start_from_val_labels_and_uploads(
    flow: torch.nn.Module, synthetic_root: Path, tmp_path: Path
) -> None:
    handlers = PageHandlers(flow, synthetic_root, tmp_path)
    names = handlers.val_names()
    assert len(names) == 4
    value, note = handlers.from_val(names[0])
    expected = fit_to_model(
        CityscapesDataset(synthetic_root, "val").load_label_ids(0), (16, 32), ""
    )
    np.testing.assert_array_equal(handlers.label_of(value), expected.label_ids)
    assert "64x128" in note and "another aspect" not in note
    with pytest.raises(UserInputError, match="no val label"):
        handlers.from_val("nowhere/x")
    with pytest.raises(UserInputError, match="canvas is empty"):
        handlers.label_of({"background": None, "layers": [], "composite": None})
    path = _write(tmp_path / "l.png", empty_scene((16, 32)))
    value, note = handlers.from_upload(str(path))
    assert note == "" and handlers.preview(value).shape == (16 * 16, 32 * 16, 3)


def test_transfer_under_its_own_label_gives_the_photo_back(
    handlers: PageHandlers, tmp_path: Path
) -> None:
    size = handlers.image_size
    ids = empty_scene(size)
    photo = sample_photos(handlers.model, ids, SamplingSettings(count=1, seed=2)).images[0]
    photo_path = _write(tmp_path / "p.png", photo)
    label_path = _write(tmp_path / "l.png", label_ids_to_colours(ids))
    source, value, note = handlers.load_content(str(photo_path), str(label_path))
    back = handlers.transfer(source, value, 1.0)
    assert np.abs(back.astype(int) - photo.astype(int)).max() <= 1  # exact inverse, 8-bit rounding
    other = ids.copy()
    other[8:, 4:20] = CAR.id
    moved = handlers.transfer(source, _painted(other, size), 0.8)

    def colours(label_ids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(label_ids_to_colours(label_ids)).permute(2, 0, 1)[None] / 255

    x = torch.from_numpy(photo).permute(2, 0, 1)[None] / 255
    expected = content_transfer(handlers.model, x, colours(ids), colours(other), scale=0.8)
    np.testing.assert_array_equal(moved, to_uint8(expected)[0])


def test_a_diverged_transfer_gives_the_clis_message(
    flow: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        synthesis,
        "content_transfer",
        lambda model, x, *args, **kw: torch.full_like(x, float("nan")),
    )
    ids = empty_scene((16, 32))
    photo = np.zeros((16, 32, 3), np.uint8)
    with pytest.raises(UserInputError, match=r"diverged .* latent scale 0\.9.*for example 0\.7"):
        transfer_content(flow, photo, ids, ids, 0.9)


def test_the_core_does_not_import_gradio() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fullglow.cli, fullglow.app.handlers; fullglow.cli.build_parser(); "
        "print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_gradio_the_app_says_how_to_install_it(
    flow: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from fullglow.app.launch import launch
    from fullglow.training.runs import LoadedRun

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "fullglow.app.page", raising=False)
    for name in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "")  # restored afterwards: launch sets them
    run = LoadedRun(flow, tmp_path, "model", "0" * 16)
    with pytest.raises(UserInputError, match=r'pip install -e "\.\[app\]"'):
        launch(run, None, "127.0.0.1", 7860)


def test_guidance_and_denoising_reach_the_sampler_only_when_the_run_was_trained_for_them(
    flow: torch.nn.Module, tmp_path: Path
) -> None:
    flow = copy.deepcopy(flow)  # perturbed, so that its samples depend on the label
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    size = tuple(flow.config.image_size)
    ids = np.full(size, ROAD.id, dtype=np.uint8)
    ids[: size[0] // 3] = SKY.id
    painted = _painted(ids, size)
    plain = PageHandlers(flow, None, tmp_path)
    trained = PageHandlers(flow, None, tmp_path, RunOptions(guidance=True, denoise_sigma=0.05))
    base = plain.generate(painted, 0.8, 2, 3).photos.images
    # a run trained without label dropout or noise ignores the controls
    assert np.array_equal(plain.generate(painted, 0.8, 2, 3, 0.5, True).photos.images, base)
    # w = 1 is the conditional sampler; another w and the denoising step are what `generate` does
    assert np.array_equal(trained.generate(painted, 0.8, 2, 3, 1.0).photos.images, base)
    for w, denoise in ((0.5, False), (1.0, True)):
        got = trained.generate(painted, 0.8, 2, 3, w, denoise).photos.images
        sigma = 0.05 if denoise else None
        want = sample_photos(
            flow, ids, SamplingSettings(0.8, 2, 3, guidance=w, denoise_sigma=sigma)
        )
        assert np.array_equal(got, want.images) and not np.array_equal(got, base)
    with pytest.raises(UserInputError, match="denoising sigma must be > 0"):
        SamplingSettings(denoise_sigma=0.0)


def test_run_options_come_from_the_training_config(tmp_path: Path) -> None:
    assert RunOptions.of_run(tmp_path) == RunOptions()  # a saved model: no training config
    config = TrainConfig(data="d", steps=1, label_dropout=0.1, noise_sigma=0.02)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config.to_dict()))
    assert RunOptions.of_run(tmp_path) == RunOptions(guidance=True, denoise_sigma=0.02)
