"""Noise-augmented training (`noise_sigma`) and the self-denoising step after sampling."""

from __future__ import annotations

import pytest
import torch

from fullglow.data import CityscapesDataset
from fullglow.likelihood import gaussian_dequantize
from fullglow.synthesis.denoise import denoise
from fullglow.synthesis.generation import generate
from fullglow.training.batches import prepare_batch
from test_flow_models import _batch, _model
from test_training_support import TINY_SIZE, tiny_config


@pytest.mark.parametrize("name", ["fullglow", "cglow-v2", "dualglow"])
def test_denoising_is_x_plus_sigma_squared_times_each_samples_own_score(name: str):
    model = _model(name)
    x, cond = _batch(3, model)
    sigma = 0.1
    expected = []
    for i in range(3):
        one = x[i : i + 1].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.log_prob(one, cond[i : i + 1]).sum(), one)
        expected.append(x[i : i + 1] + sigma**2 * grad)
    denoised = denoise(model, x, cond, None, sigma)
    assert not denoised.requires_grad
    torch.testing.assert_close(denoised, torch.cat(expected), atol=1e-10, rtol=0)
    assert not torch.allclose(denoised, x)


def test_a_diverged_sample_is_left_as_it_is_and_does_not_touch_the_others():
    model = _model("fullglow")
    x, cond = _batch(3, model)
    broken = x.clone()
    broken[1, 0, 0, 0] = float("nan")
    denoised = denoise(model, broken, cond, None, 0.1)
    assert torch.equal(denoised[1].isnan(), broken[1].isnan())
    torch.testing.assert_close(denoised[[0, 2]], denoise(model, x[[0, 2]], cond[[0, 2]], None, 0.1))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        denoise(model, x, cond, None, 0.0)


def test_generate_denoises_the_samples_it_draws_only_when_asked():
    model = _model("fullglow")
    _, cond = _batch(2, model)

    def draw(**options) -> torch.Tensor:
        return generate(model, cond, None, 0.7, torch.Generator().manual_seed(4), **options)

    photos = draw()
    assert torch.equal(photos, model.sample(cond, 0.7, torch.Generator().manual_seed(4)))
    torch.testing.assert_close(draw(denoise_sigma=0.05), denoise(model, photos, cond, None, 0.05))


def test_gaussian_dequantization_is_the_bin_centre_plus_sigma_times_normal_noise():
    x = torch.tensor([[0.0, 0.5, 1.0, 37 / 255]])
    noisy = gaussian_dequantize(x, 0.05, 8, torch.Generator().manual_seed(2))
    centre = torch.tensor([[0.5, 128.5, 255.5, 37.5]]) / 256
    normal = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(noisy, centre + 0.05 * normal)


def test_training_batches_get_gaussian_noise_on_the_photos_and_uniform_on_the_labels(
    synthetic_root,
):
    dataset = CityscapesDataset(synthetic_root, "train", image_size=TINY_SIZE)
    samples = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    config = tiny_config(synthetic_root, noise_sigma=0.05)
    batch = prepare_batch(
        samples, config=config, n_bits=8, step=1, slots=[0, 1, 2, 3],
        device=torch.device("cpu"), flip=False,
    )  # fmt: skip
    noise = batch.x - (torch.floor(batch.photo * 256).clamp(max=255) + 0.5) / 256
    assert abs(noise.mean().item()) < 0.005 and abs(noise.std().item() - 0.05) < 0.005
    offset = batch.cond - torch.floor(batch.label_colour * 256).clamp(max=255) / 256
    assert (offset >= 0).all() and (offset < 1 / 256).all()
