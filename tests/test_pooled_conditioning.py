"""Pooled conditioning (`ConditioningConfig.pool_size`): the flow contract, and one model at any size."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from flow_checks import jacobian_logdet, perturb
from fullglow import build_model
from fullglow.likelihood import standard_normal_log_prob
from fullglow.models.resize import at_image_size
from test_flow_models import SMALL, _assert_memory_saving_matches_plain, _batch

POOLED_FLOWS = ["fullglow", "cglow-v1", "cglow-v2"]
"""The models with actnorm / 1x1-convolution conditioning networks (Dual-Glow has none)."""

POOLED = {"conditioning": {"pool_size": (2, 3)}}


def _pooled(name: str, dtype: torch.dtype = torch.float64, **options) -> torch.nn.Module:
    model = build_model(name, preset="tiny", **{**SMALL, **POOLED, **options}).to(dtype)
    x, cond = _batch(4, model, dtype)
    model.initialize(x, cond)
    perturb(model, scale=0.02)
    return model.eval()


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_models_pool_every_conditioning_network_and_keep_the_preset_otherwise(name: str):
    plain, pooled = build_model(name, preset="tiny"), build_model(name, preset="tiny", **POOLED)
    assert pooled.config.conditioning.pool_size == (2, 3)
    assert pooled.config.conditioning.mlp_conv_channels == plain.config.conditioning.mlp_conv_channels
    pools = [m for m in pooled.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    assert len(pools) == len([m for m in plain.modules() if type(m).__name__ == "ConditioningMLP"])
    assert not [m for m in plain.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]


@pytest.mark.parametrize("name", POOLED_FLOWS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_pooled_decode_inverts_encode(name: str, dtype: torch.dtype, tol: float):
    model = _pooled(name, dtype)
    x, cond = _batch(3, model, dtype)
    assert torch.allclose(model.decode(model.encode(x, cond), cond), x, atol=tol, rtol=0)


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_log_prob_is_latent_density_plus_jacobian_logdet(name: str):
    model = _pooled(name, image_size=(8, 8))
    x, cond = _batch(1, model)

    def latents_of(v: Tensor) -> Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v, cond)], dim=1)

    expected = standard_normal_log_prob(latents_of(x)) + jacobian_logdet(latents_of, x)
    assert torch.allclose(model.log_prob(x, cond), expected, atol=1e-7)


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_per_sample_results_do_not_depend_on_the_batch(name: str):
    model = _pooled(name)
    x, cond = _batch(4, model)
    log_prob = model.log_prob(x, cond)
    for i in range(4):
        one = slice(i, i + 1)
        assert torch.allclose(model.log_prob(x[one], cond[one]), log_prob[one], atol=1e-10)


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_memory_saving_gives_the_same_loss_and_gradients(name: str):
    model = _pooled(name)
    _assert_memory_saving_matches_plain(model, *_batch(2, model))


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_save_and_load_round_trip(name: str, tmp_path):
    model = _pooled(name, torch.float32)
    x, cond = _batch(2, model, torch.float32)
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m").eval()
    assert loaded.config == model.config
    assert torch.equal(loaded.log_prob(x, cond), model.log_prob(x, cond))


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_a_pooled_model_trained_at_32x64_samples_and_scores_at_64x128(name: str):
    model = build_model(name, preset="demo", hidden_channels=8, n_flows=1, **POOLED)
    gen = torch.Generator().manual_seed(1)
    x, cond = torch.rand(2, 3, 32, 64, generator=gen), torch.rand(2, 3, 32, 64, generator=gen)
    model.initialize(x, cond)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model.loss(x, cond).backward()
        optimizer.step()
    model.eval()
    big = at_image_size(model, (64, 128))
    assert big.config.image_size == (64, 128) and not big.training
    assert sum(p.numel() for p in big.parameters()) == sum(p.numel() for p in model.parameters())
    for (key, mine), theirs in zip(model.state_dict().items(), big.state_dict().values()):
        assert mine.data_ptr() == theirs.data_ptr(), key  # the same tensors, not copies
    cond_big = torch.rand(2, 3, 64, 128, generator=gen)
    with torch.no_grad():
        photos = big.sample(cond_big, temperature=0.8, generator=gen)
        assert photos.shape == (2, 3, 64, 128) and torch.isfinite(photos).all()
        x_big = torch.rand(2, 3, 64, 128, generator=gen)
        assert torch.isfinite(big.log_prob(x_big, cond_big)).all()
        assert torch.allclose(big.decode(big.encode(x_big, cond_big), cond_big), x_big, atol=1e-4)
        # Back at the training size, the rebuilt model is the trained one.
        same = at_image_size(big, (32, 64))
        assert torch.equal(same.log_prob(x, cond), model.log_prob(x, cond))


def test_the_paper_conditioning_refuses_another_size_with_a_readable_error():
    model = build_model("fullglow", preset="tiny")
    with pytest.raises(ValueError, match=r"tied to its size 16x16 .* pooled conditioning"):
        at_image_size(model, (32, 32))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*n_blocks = 4"):
        at_image_size(build_model("fullglow", preset="tiny", **POOLED), (18, 16))
    with pytest.raises(ValueError, match="pool_size must be None or two positive sides"):
        build_model("fullglow", preset="tiny", conditioning={"pool_size": (0, 2)})


def test_pooled_conditioning_makes_the_parameter_count_independent_of_the_size():
    def count(size: tuple[int, int], **options) -> int:
        model = build_model("fullglow", preset="tiny", image_size=size, **options)
        return sum(p.numel() for p in model.parameters())

    assert count((16, 16), **POOLED) == count((64, 64), **POOLED)
    assert count((16, 16)) < count((64, 64))
