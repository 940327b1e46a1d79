"""pix2pix baseline: sizes, receptive field, losses, training, sampling, input checks."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from fullglow.models.pix2pix import PRESETS, Pix2Pix, Pix2PixConfig, gan_loss
from fullglow.models.pix2pix_networks import PatchDiscriminator

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def paper_model() -> Pix2Pix:
    torch.manual_seed(0)
    return Pix2Pix(PRESETS["paper-256"])


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _pair(config: Pix2PixConfig, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = config.image_size
    x = torch.rand(batch, config.in_channels, height, width)
    cond = torch.rand(batch, config.cond_channels, height, width)
    return x, cond


def test_preset_depths_and_sizes():
    # 2 divides 256 eight times (unet_256), 32 five times, 64x128 six times (64 limits).
    assert [PRESETS[name].depth for name in ("paper-256", "tiny", "demo")] == [8, 5, 6]
    assert PRESETS["paper-256"].hidden_channels == 64
    assert (PRESETS["paper-256"].lr, PRESETS["paper-256"].beta1) == (2e-4, 0.5)
    assert PRESETS["paper-256"].l1_weight == 100.0
    assert Pix2PixConfig(image_size=(48, 96)).depth == 4
    assert Pix2PixConfig(image_size=(64, 64), n_downsamplings=3).depth == 3


def test_paper_parameter_counts_match_pix2pix(paper_model):
    # Hand count of unet_256 / n_layers=3 PatchGAN with batch norm (convs before a norm have no
    # bias). pix2pix prints "54.414 M" for G and "2.769 M" for D.
    widths = [64, 128, 256, 512, 512, 512, 512, 512]
    middle = list(
        zip(widths[:-2], widths[1:-1], strict=True)
    )  # (outer, inner) widths of levels 1..6
    down = 3 * 64 * 16 + sum(a * b * 16 + 2 * b for a, b in middle)
    down += 512 * 512 * 16  # innermost: no norm
    up = 512 * 512 * 16 + 2 * 512  # innermost decoder level: 512 -> 512, norm
    up += sum(2 * b * a * 16 + 2 * a for a, b in middle)  # reads cat(skip, decoded)
    up += 2 * 64 * 3 * 16 + 3  # top: bias, no norm
    assert _count(paper_model.generator) == down + up
    assert round((down + up) / 1e6, 3) == 54.414
    d = 6 * 64 * 16 + 64 + 64 * 128 * 16 + 256 + 128 * 256 * 16 + 512 + 256 * 512 * 16 + 1024
    d += 512 * 16 + 1
    assert _count(paper_model.discriminator) == d
    assert round(d / 1e6, 3) == 2.769


def test_pix2pix_initialisation(paper_model):
    conv = paper_model.generator.down[3].conv.weight  # 256 * 512 * 16 weights
    assert conv.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert conv.std().item() == pytest.approx(0.02, rel=0.01)
    norm = paper_model.generator.down[3].norm
    assert norm.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert torch.all(norm.bias == 0)


@pytest.mark.parametrize(("num_layers", "expected"), [(1, 16), (2, 34), (3, 70)])
def test_receptive_field_analytic(num_layers, expected):
    # n stride-2 4x4 convs then two stride-1 ones: r = 1 + 3 * (1 + 2 + ... + 2**(n-1)) + 2 * 3 * 2**n.
    assert expected == 1 + 3 * (2**num_layers - 1) + 6 * 2**num_layers
    assert PatchDiscriminator(6, 8, num_layers).receptive_field() == (expected, expected)


def test_receptive_field_empirical_is_70x70(paper_model):
    discriminator = paper_model.discriminator
    assert discriminator.receptive_field() == (70, 70)
    was_training = discriminator.training
    saved = {k: v.clone() for k, v in discriminator.state_dict().items()}
    try:
        # Eval mode (running statistics) makes batch norm a per-pixel map; positive weights and
        # inputs leave every pre-activation positive, so no path cancels another.
        discriminator.eval()
        with torch.no_grad():
            for layer in discriminator.modules():
                if isinstance(layer, nn.Conv2d):
                    layer.weight.abs_()
        pair = torch.rand(1, 6, 256, 256, requires_grad=True)
        logits = discriminator(pair)
        assert logits.shape == (1, 1, 30, 30)
        (grad,) = torch.autograd.grad(logits[0, 0, 15, 15], pair)
    finally:
        discriminator.load_state_dict(saved)
        discriminator.train(was_training)
    touched = grad[0].abs().sum(0) > 0
    rows = touched.any(1).nonzero().flatten()
    cols = touched.any(0).nonzero().flatten()
    # Output i sees inputs 8i - 23 .. 8i + 46: jump 2*2*2 = 8, padding 1 + 2 + 4 + 8 + 8 = 23.
    assert (rows.min().item(), rows.max().item()) == (15 * 8 - 23, 15 * 8 + 46)
    assert (cols.min().item(), cols.max().item()) == (15 * 8 - 23, 15 * 8 + 46)
    assert touched.sum().item() == 70 * 70


def test_gan_loss_hand_values():
    zeros = torch.zeros(2, 1, 3, 3)
    assert gan_loss(zeros, True).item() == pytest.approx(math.log(2))
    assert gan_loss(zeros, False).item() == pytest.approx(math.log(2))
    logits = torch.tensor([2.0, -1.0])
    assert gan_loss(logits, True).item() == pytest.approx(
        (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    )
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx((1.0 + 4.0) / 2)
    assert gan_loss(logits, False, "lsgan").item() == pytest.approx((4.0 + 1.0) / 2)


def test_phases_split_losses_and_gradients():
    model = Pix2Pix(TINY)
    x, cond = _pair(TINY)
    groups = model.parameter_groups()
    assert len(groups["generator"]) + len(groups["discriminator"]) == len(list(model.parameters()))

    losses = model(x, cond, phase="discriminator")
    assert losses.l1.item() == 0.0 and torch.equal(losses.total, losses.gan)
    losses.total.backward()
    assert all(p.grad is None for p in groups["generator"])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["discriminator"])

    model.zero_grad(set_to_none=True)
    losses = model(x, cond, phase="generator")
    assert losses.total.item() == pytest.approx(losses.gan.item() + 100.0 * losses.l1.item())
    # Outputs start near 0 in [-1, 1]; the L1 term is measured there, so it is about 2 * E|x - 1/2|.
    assert 0.5 < losses.l1.item() < 1.5
    losses.total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["generator"])
    with pytest.raises(ValueError, match="phase"):
        model(x, cond, phase="both")


def test_batch_one_trains_through_a_1x1_bottleneck():
    model = Pix2Pix(TINY).train()  # 32x32, 5 levels: the innermost code is 1x1
    x, cond = _pair(TINY, batch=1)
    losses = model(x, cond, phase="generator")
    assert torch.isfinite(losses.total)


def test_adam_steps_on_a_fixed_batch_lower_l1():
    model = Pix2Pix(TINY)
    _, cond = _pair(TINY, batch=2)
    # A smooth target (bilinear upsampling of 4x4 noise): something a few steps can start to fit.
    x = nn.functional.interpolate(torch.rand(2, 3, 4, 4), size=(32, 32), mode="bilinear")
    groups = model.parameter_groups()
    betas = (TINY.beta1, 0.999)
    opt_g = torch.optim.Adam(groups["generator"], lr=TINY.lr, betas=betas)
    opt_d = torch.optim.Adam(groups["discriminator"], lr=TINY.lr, betas=betas)

    def l1() -> float:
        torch.manual_seed(1)  # the same dropout masks for both measurements
        with torch.no_grad():
            return model(x, cond, phase="generator").l1.item()

    before = l1()
    for _ in range(30):
        opt_d.zero_grad()
        model(x, cond, phase="discriminator").total.backward()
        opt_d.step()
        opt_g.zero_grad()
        model(x, cond, phase="generator").total.backward()
        opt_g.step()
    after = l1()
    assert after < 0.97 * before  # lr 2e-4 moves slowly: about -7% in 30 steps


def test_sample_dropout_noise_is_reproducible_per_seed():
    model = Pix2Pix(TINY).eval()
    _, cond = _pair(TINY, batch=2)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def sample(seed: int) -> torch.Tensor:
        return model.sample(cond, generator=torch.Generator().manual_seed(seed))

    first = sample(3)
    assert first.shape == (2, 3, 32, 32)
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, sample(3))
    assert (first - sample(4)).abs().max() > 1e-3  # dropout stays on in eval mode
    assert not model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_sample_without_dropout_is_deterministic_and_batch_independent():
    config = dataclasses.replace(TINY, dropout=0.0)
    model = Pix2Pix(config).train()
    _, cond = _pair(config, batch=3)
    together = model.sample(cond, generator=torch.Generator().manual_seed(0))
    alone = model.sample(cond[1:2], generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(together[1:2], alone)
    assert model.training


def test_side_information_reaches_the_generator():
    config = dataclasses.replace(TINY, side_channels=1, dropout=0.0)
    model = Pix2Pix(config)
    x, cond = _pair(config)
    side = torch.zeros(2, 1, 32, 32)
    assert torch.isfinite(model(x, cond, side, phase="discriminator").total)
    edges = side.clone()
    edges[:, :, 16, :] = 1.0
    assert (model.sample(cond, side=side) - model.sample(cond, side=edges)).abs().max() > 1e-4
    with pytest.raises(ValueError, match="side_channels=1"):
        model.sample(cond)
    with pytest.raises(ValueError, match="side_channels=0"):
        Pix2Pix(TINY).sample(cond, side=side)


@pytest.mark.parametrize(
    ("x_shape", "cond_shape", "message"),
    [
        (
            (2, 3, 32, 32),
            (2, 4, 32, 32),
            r"cond must have shape \(B, 3, H, W\), got \(2, 4, 32, 32\)",
        ),
        ((2, 1, 32, 32), (2, 3, 32, 32), r"x must have shape \(B, 3, H, W\), got \(2, 1, 32, 32\)"),
        ((1, 3, 32, 32), (2, 3, 32, 32), r"x has batch/size \(1, 32, 32\), expected \(2, 32, 32\)"),
        ((2, 3, 32, 64), (2, 3, 32, 32), r"x has batch/size \(2, 32, 64\), expected \(2, 32, 32\)"),
        ((2, 3, 48, 48), (2, 3, 48, 48), r"48x48 must be divisible by 2\*\*n_downsamplings = 32"),
    ],
)
def test_input_shapes_are_checked(x_shape, cond_shape, message):
    model = Pix2Pix(TINY)
    with pytest.raises(ValueError, match=message):
        model.loss(torch.rand(x_shape), torch.rand(cond_shape))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_inputs_are_rejected(bad):
    model = Pix2Pix(TINY)
    x, cond = _pair(TINY)
    cond[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match="cond contains NaN or infinite"):
        model.loss(x, cond)
    with pytest.raises(ValueError, match="cond contains NaN or infinite"):
        model.sample(cond)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"image_size": (40, 40), "n_downsamplings": 4},
            r"40x40 must be divisible by 2\*\*n_downsamplings = 16",
        ),
        ({"image_size": (31, 32)}, "31x32 must be divisible by 2 for the U-Net"),
        ({"image_size": (16, 32)}, "16x32 is smaller than 24 pixels"),
        ({"n_downsamplings": 6}, r"32x32 must be divisible by 2\*\*n_downsamplings = 64"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"gan_loss": "wgan"}, "gan_loss must be 'vanilla' or 'lsgan', got 'wgan'"),
        ({"in_channels": 0}, "in_channels must be >= 1, got 0"),
    ],
)
def test_config_is_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **changes)
