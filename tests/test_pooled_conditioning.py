"""Pooled conditioning (`ConditioningConfig.pool_size`): one model at any size.

The flow contract (inversion, log-det against the Jacobian, batch independence, memory-saving
gradients, save/load) runs over the pooled models in `test_flow_models.py` (`name+pooled`).
"""

from __future__ import annotations

import pytest
import torch

from fullglow import build_model
from fullglow.models.resize import at_image_size
from test_flow_models import VARIANTS

POOLED_FLOWS = ["fullglow", "cglow-v1", "cglow-v2"]
"""The models with actnorm / 1x1-convolution conditioning networks (Dual-Glow has none)."""

POOLED = VARIANTS["pooled"]


@pytest.mark.parametrize("name", POOLED_FLOWS)
def test_pooled_models_pool_every_conditioning_network_and_keep_the_preset_otherwise(name: str):
    plain, pooled = build_model(name, preset="tiny"), build_model(name, preset="tiny", **POOLED)
    assert pooled.config.conditioning.pool_size == (2, 3)
    assert (
        pooled.config.conditioning.mlp_conv_channels == plain.config.conditioning.mlp_conv_channels
    )
    pools = [m for m in pooled.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    assert len(pools) == len([m for m in plain.modules() if type(m).__name__ == "ConditioningMLP"])
    assert not [m for m in plain.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]


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
    for (key, mine), theirs in zip(
        model.state_dict().items(), big.state_dict().values(), strict=True
    ):
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


def test_fullglow_sample_generates_at_another_size_with_a_pooled_model(
    synthetic_root, tmp_path, capsys
):
    from PIL import Image

    from fullglow.cli import main

    for key, options in (("pooled", POOLED), ("paper", {})):
        model = build_model("fullglow", preset="demo", hidden_channels=8, n_flows=1, **options)
        model.initialize(torch.rand(2, 3, 32, 64), torch.rand(2, 3, 32, 64))
        model.save(tmp_path / key)
    command = ["sample", "--data", str(synthetic_root), "--image-size", "64x128", "--device", "cpu"]
    assert main([*command, "--run", str(tmp_path / "pooled"), "--out", str(tmp_path / "a")]) == 0
    written = sorted((tmp_path / "a").rglob("*_leftImg8bit.png"))
    assert len(written) == 4 and Image.open(written[0]).size == (128, 64)
    assert main([*command, "--run", str(tmp_path / "paper"), "--out", str(tmp_path / "b")]) == 2
    assert "--image-size: this FullGlow is tied to its size 32x64" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
