"""Guided sampling (`fullglow.synthesis.guidance`) and label dropout in training."""

from __future__ import annotations

import pytest
import torch

from fullglow import build_model
from fullglow.data import CityscapesDataset
from fullglow.synthesis.guidance import guided, guided_sample, null_label
from fullglow.training.batches import prepare_batch
from test_flow_models import _batch, _model
from test_training_support import TINY_SIZE, tiny_config

GUIDED_FLOWS = ["fullglow", "cglow-v1", "cglow-v2", "dualglow", "fullglow+pooled"]


def _draw(model, cond, weight=None, null=None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(11)
    if weight is None:
        return model.sample(cond, 0.9, generator=generator)
    return guided_sample(model, cond, null, weight, 0.9, generator)


@pytest.mark.parametrize("name", GUIDED_FLOWS)
def test_weight_one_is_the_conditional_sampler_and_zero_the_null_one(name: str):
    model = _model(name)
    _, cond = _batch(3, model)
    null = null_label(cond)
    torch.testing.assert_close(
        _draw(model, cond, 1.0, null), _draw(model, cond), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(
        _draw(model, cond, 0.0, null), _draw(model, null), atol=1e-10, rtol=0
    )
    pushed = _draw(model, cond, 2.0, null)
    assert torch.isfinite(pushed).all()
    assert not torch.allclose(pushed, _draw(model, cond), atol=1e-6)


@pytest.mark.parametrize("name", ["fullglow", "cglow-v2", "dualglow"])
def test_the_guided_map_is_exactly_invertible_for_each_sample(name: str):
    model = _model(name)
    x, cond = _batch(2, model)
    null = null_label(cond)
    with guided(model, 1.7):
        latents = model.encode(torch.cat([x, x]), torch.cat([cond, null]))
        for z in latents:
            torch.testing.assert_close(z[:2], z[2:], atol=0, rtol=0)
        back = model.decode(latents, torch.cat([cond, null]))
    torch.testing.assert_close(back[:2], x, atol=1e-10, rtol=0)
    # Guidance holds only inside the context: the plain model is back afterwards.
    torch.testing.assert_close(model.decode(model.encode(x, cond), cond), x, atol=1e-10, rtol=0)
    assert not torch.allclose(model.encode(x, cond)[0], latents[0][:2])


def test_an_unconditional_model_cannot_be_guided():
    model = build_model("glow", preset="tiny")
    with pytest.raises(ValueError, match="Glow has no conditional operations to guide"):
        with guided(model, 2.0):
            pass


def test_label_dropout_trains_on_the_null_label_with_its_probability(synthetic_root):
    dataset = CityscapesDataset(synthetic_root, "train", image_size=TINY_SIZE)
    samples = torch.utils.data.default_collate([dataset[i % 8] for i in range(64)])
    kwargs = {"n_bits": 8, "step": 3, "slots": list(range(64)), "device": torch.device("cpu")}
    kept = prepare_batch(samples, config=tiny_config(synthetic_root), flip=False, **kwargs)
    dropped = prepare_batch(
        samples, config=tiny_config(synthetic_root, label_dropout=0.5), flip=False, **kwargs
    )
    is_null = (dropped.cond < 1 / 256).flatten(1).all(dim=1)
    assert 16 <= int(is_null.sum()) <= 48
    assert not (kept.cond < 1 / 256).flatten(1).all(dim=1).any()
    assert torch.equal(dropped.photo, kept.photo)


def test_generate_samples_guided_when_given_a_weight():
    from fullglow.synthesis.generation import generate

    model = _model("fullglow")
    _, cond = _batch(2, model)
    generated = generate(model, cond, None, 0.9, torch.Generator().manual_seed(11), guidance=2.0)
    torch.testing.assert_close(generated, _draw(model, cond, 2.0, null_label(cond)))


def test_fullglow_sample_takes_guidance_and_a_denoising_sigma(synthetic_root, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from flow_checks import perturb
    from fullglow.cli import main

    model = build_model("fullglow", preset="tiny", image_size=(64, 128), n_flows=1)
    model.initialize(torch.rand(2, 3, 64, 128), torch.rand(2, 3, 64, 128))
    perturb(model, scale=0.05)
    model.save(tmp_path / "model")
    command = ["sample", "--run", str(tmp_path / "model"), "--data", str(synthetic_root)]
    photos = {}
    for key, extra in (
        ("plain", []),
        ("guided", ["--guidance", "3"]),
        ("denoised", ["--denoise-sigma", "0.05"]),
    ):
        assert main([*command, *extra, "--out", str(tmp_path / key)]) == 0
        first = sorted((tmp_path / key).rglob("*_leftImg8bit.png"))[0]
        photos[key] = np.asarray(Image.open(first), dtype=np.int64)
    assert np.abs(photos["guided"] - photos["plain"]).max() > 0
    assert np.abs(photos["denoised"] - photos["plain"]).max() > 0
    assert main([*command, "--denoise-sigma", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "the denoising sigma must be > 0, got 0.0" in capsys.readouterr().err
