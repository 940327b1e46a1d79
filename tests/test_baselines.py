"""What is specific to the flow baselines (C-Glow v1/v2, Dual-Glow) and to the model registry.

The shared contract (inversion, Jacobian log-det, batch independence, gradients, memory saving,
save/load, input errors) is `test_flow_models.py`, which runs on these models too.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from flow_checks import perturb
from fullglow import build_model, model_names
from fullglow.conditional import (
    ConditionalActNorm,
    ConditionalCoupling,
    ConditionalFlowStep,
    ConditionalInvConv1x1,
)
from fullglow.errors import UserInputError
from fullglow.layers import GaussianSplit, TopPrior, squeeze
from fullglow.models import CGlowV1, CGlowV2
from fullglow.models.c_glow import ConditionEncoder
from fullglow.models.registry import preset_names

FLOW_BASELINES = ["cglow-v1", "cglow-v2", "dualglow"]
README = Path(__file__).resolve().parents[1] / "README.md"


def _model(name: str, side_channels: int = 0, **options) -> nn.Module:
    options = {"image_size": (8, 16), "n_blocks": 2, "n_flows": 2, "hidden_channels": 8, **options}
    model = build_model(name, preset="tiny", side_channels=side_channels, **options).double()
    model.initialize(*_batch(model, 4))
    perturb(model, scale=0.02)
    return model.eval()


def _batch(model: nn.Module, b: int, seed: int = 3) -> tuple[Tensor, Tensor, Tensor | None]:
    """`(x, cond, side)` in [0, 1], float64; `side` is None when the model takes none."""
    gen = torch.Generator().manual_seed(seed)
    cfg = model.config

    def image(channels: int) -> Tensor:
        return torch.rand(b, channels, *cfg.image_size, generator=gen, dtype=torch.float64)

    side = image(cfg.side_channels) if cfg.side_channels else None
    return image(cfg.in_channels), image(cfg.cond_channels), side


def _same_x_two_conditions(model: nn.Module) -> tuple[Tensor, Tensor]:
    """One target image twice, with two different conditions: what differs comes from `cond`."""
    x, cond, _ = _batch(model, 2)
    return x[:1].expand_as(x).contiguous(), cond


def _differ(pair: Tensor) -> bool:
    """The two samples' values differ by more than float64 rounding could make them."""
    return (pair[0] - pair[1]).abs().max().item() > 1e-9


@pytest.mark.parametrize("name", ["cglow-v1", "cglow-v2"])
def test_cglow_conditions_every_actnorm_invconv_coupling_and_prior_on_cond(name):
    model = _model(name)
    seen: dict[str, list[bool]] = {"actnorm": [], "invconv": [], "coupling": [], "prior": []}
    hooks = []
    for module in model.modules():
        if isinstance(module, (ConditionalActNorm, ConditionalInvConv1x1)):
            # These log-dets depend on the condition only (not on x): different log-dets for the
            # two samples mean that the operation's parameters come from `cond`.
            kind = "actnorm" if isinstance(module, ConditionalActNorm) else "invconv"
            hooks.append(
                module.register_forward_hook(
                    lambda m, args, out, kind=kind: seen[kind].append(_differ(out[1]))
                )
            )
        elif isinstance(module, ConditionalCoupling):
            hooks.append(
                module.net.register_forward_hook(
                    lambda m, args, out: seen["coupling"].append(_differ(out))
                )
            )
        elif isinstance(module, (GaussianSplit, TopPrior)):
            hooks.append(
                module.register_forward_pre_hook(
                    lambda m, args: seen["prior"].append(args[1] is not None and _differ(args[1]))
                )
            )
    x, cond = _same_x_two_conditions(model)
    log_prob = model.log_prob(x, cond)
    for hook in hooks:
        hook.remove()
    n_steps = sum(model.config.n_flows)
    assert seen == {
        "actnorm": [True] * n_steps,
        "invconv": [True] * n_steps,
        "coupling": [True] * n_steps,
        "prior": [True] * model.config.n_blocks,
    }
    assert _differ(log_prob)


def test_cglow_encoder_on_the_squeezed_condition_is_a_strided_convolution_of_the_image():
    encoder = ConditionEncoder(3 * 4, 5, feature_layers=1).double()
    cond = torch.rand(2, 3, 8, 12, dtype=torch.float64)
    conv = encoder[0]
    kernel = conv.weight.reshape(5, 3, 2, 2)  # squeeze puts pixel (2h+i, 2w+j) of c at c*4+i*2+j
    expected = F.conv2d(cond, kernel, conv.bias, stride=2)
    assert torch.allclose(encoder(squeeze(cond)), expected, atol=1e-12)


@pytest.mark.parametrize("name", ["cglow-v1", "cglow-v2"])
def test_cglow_loss_has_no_source_term(name):
    model = _model(name)
    x, cond, _ = _batch(model, 2)
    terms = model(x, cond)
    d = x[0].numel()
    expected = ((-model.log_prob(x, cond) + d * math.log(256)) / (d * math.log(2))).mean()
    assert terms.source_bpd.item() == 0.0
    assert torch.allclose(terms.target_bpd, expected)
    assert torch.allclose(terms.total, expected)
    assert not hasattr(model.config, "source_weight")


def _source_latents_before_prior(model: nn.Module, cond: Tensor) -> list[Tensor]:
    """The source Glow walked by hand: per level the channels it splits off, before its prior."""
    h, latents = cond - 0.5, []
    for level in model.source.levels:
        h = squeeze(h)
        for step in level.steps:
            h, _ = step(h)
        kept = level.shape.kept_channels if level.shape.split else 0
        latents.append(h[:, kept:])
        h = h[:, :kept]
    return latents


def test_dualglow_target_priors_read_the_source_latents_of_their_level():
    model = _model("dualglow")
    inputs: list[Tensor] = []
    hooks = [
        level.prior_net.register_forward_hook(lambda m, args, out: inputs.append(args[0]))
        for level in model.target_levels
    ]
    x, cond, _ = _batch(model, 2)
    model.log_prob(x, cond)
    for hook in hooks:
        hook.remove()
    expected = _source_latents_before_prior(model, cond)
    assert [z.shape for z in inputs] == [z.shape for z in expected]
    for got, want in zip(inputs, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-12)


def test_dualglow_target_depends_on_the_source_only_through_its_priors():
    model = _model("dualglow")
    x, cond = _same_x_two_conditions(model)
    assert _differ(model.log_prob(x, cond))
    with torch.no_grad():
        for level in model.target_levels:
            last_conv = level.prior_net.net[-2]
            last_conv.weight.zero_()
            last_conv.bias.zero_()
    log_prob = model.log_prob(x, cond)
    assert torch.allclose(log_prob[0], log_prob[1], atol=1e-10)


def test_dualglow_loss_is_weighted_sum_of_source_and_target_bits_per_dim():
    model = _model("dualglow", source_weight=0.25)
    x, cond, _ = _batch(model, 2)
    terms = model(x, cond)
    d = x[0].numel()

    def bpd(log_prob: Tensor) -> Tensor:
        return ((-log_prob + d * math.log(256)) / (d * math.log(2))).mean()

    assert torch.allclose(terms.source_bpd, bpd(model.source_log_prob(cond)))
    assert torch.allclose(terms.target_bpd, bpd(model.log_prob(x, cond)))
    assert torch.allclose(terms.total, 0.25 * terms.source_bpd + terms.target_bpd)


@pytest.mark.parametrize("name", FLOW_BASELINES)
def test_side_information_conditions_the_baselines_and_decoding_stays_exact(name):
    model = _model(name, side_channels=1)
    x, cond, side = _batch(model, 2)
    latents = model.encode(x, cond, side)
    assert torch.allclose(model.decode(latents, cond, side), x, atol=1e-10)
    assert not torch.allclose(model.log_prob(x, cond, side), model.log_prob(x, cond, 1 - side))
    with pytest.raises(ValueError, match="side must be given"):
        model.log_prob(x, cond)


def test_cglow_memory_saving_with_side_information_gives_the_same_gradients():
    model = _model("cglow-v2", side_channels=1).train()
    x, cond, side = _batch(model, 2)

    def grads(memory_saving: bool) -> list[Tensor]:
        model.zero_grad()
        model.memory_saving = memory_saving
        model.loss(x, cond, side).backward()
        return [p.grad.clone() for p in model.parameters()]

    for plain, saving in zip(grads(False), grads(True), strict=True):
        assert torch.allclose(plain, saving, atol=1e-9, rtol=1e-7)


def _meta_model(name: str, preset: str) -> nn.Module:
    """Shapes only: parameters on the meta device, no memory, no initialisation."""
    with torch.device("meta"):
        return build_model(name, preset=preset)


def _steps_per_level(model: nn.Module) -> list[int]:
    levels = model.target_levels if hasattr(model, "target_levels") else model.levels
    return [len(level.steps) for level in levels]


@pytest.mark.parametrize(
    "name,blocks,steps", [("cglow-v1", 3, 8), ("cglow-v2", 4, 16), ("dualglow", 4, 16)]
)
def test_paper_presets_have_the_papers_blocks_and_steps(name, blocks, steps):
    model = _meta_model(name, "paper-256")
    assert model.config.image_size == (256, 256)
    assert _steps_per_level(model) == [steps] * blocks
    if name == "dualglow":
        assert [len(level.steps) for level in model.source.levels] == [steps] * blocks


def _conditioning_depth(model: nn.Module) -> int:
    """Layers with weights between the raw condition and one step's conditional operations."""
    level = model.levels[0]
    step = next(m for m in level.steps.modules() if isinstance(m, ConditionalFlowStep))
    layers = (nn.Conv2d, nn.Linear)
    encoder = sum(isinstance(m, layers) for m in level.encoder.modules())
    return encoder + max(
        sum(isinstance(m, layers) for m in op.net.modules())
        for op in (step.actnorm, step.invconv, step.coupling)
    )


@pytest.mark.parametrize("preset", ["paper-256", "demo", "tiny"])
def test_cglow_v1_has_deeper_conditioning_and_a_shallower_glow_than_v2(preset):
    v1, v2 = _meta_model("cglow-v1", preset), _meta_model("cglow-v2", preset)
    assert _conditioning_depth(v1) > _conditioning_depth(v2)
    assert sum(_steps_per_level(v1)) < sum(_steps_per_level(v2))


SHARED_OPTIONS = {
    "image_size": (32, 32),
    "in_channels": 3,
    "cond_channels": 3,
    "side_channels": 1,
    "hidden_channels": 8,
    "n_blocks": 2,
    "n_flows": 1,
}


@pytest.mark.parametrize("name", model_names())
def test_registry_builds_every_model_with_the_shared_options(name):
    model = build_model(name, preset="tiny", **SHARED_OPTIONS)
    assert model.name == name
    for option, value in SHARED_OPTIONS.items():
        if hasattr(model.config, option):
            assert getattr(model.config, option) == (value if option != "n_flows" else (1, 1))
    gen = torch.Generator().manual_seed(0)
    x, cond, side = (torch.rand(2, c, 32, 32, generator=gen) for c in (3, 3, 1))
    if name == "glow":  # unconditional: neither cond nor side
        assert model.log_prob(x).shape == (2,)
        return
    if model.has_likelihood:
        model.initialize(x, cond, side)
        assert torch.isfinite(model.log_prob(x, cond, side)).all()
    assert model.sample(cond, side=side).shape == x.shape


def test_registry_ignores_options_of_other_models_and_rejects_unknown_ones():
    assert not hasattr(build_model("pix2pix", preset="tiny", n_flows=8).config, "n_flows")
    assert not hasattr(
        build_model("cglow-v2", preset="tiny", source_weight=0.5).config, "source_weight"
    )
    with pytest.raises(ValueError, match=r"unknown model options \['n_flow'\]"):
        build_model("cglow-v1", preset="tiny", n_flow=3)
    with pytest.raises(ValueError, match="has no preset 'paper-512x1024'"):
        build_model("dualglow", preset="paper-512x1024")


def test_a_saved_cglow_reloads_as_its_own_version_only(tmp_path):
    model = build_model("cglow-v1", preset="tiny")
    model.save(tmp_path / "v1")
    assert type(CGlowV1.load(tmp_path / "v1")) is CGlowV1
    with pytest.raises(UserInputError, match="holds a 'cglow-v1' model, not a CGlowV2"):
        CGlowV2.load(tmp_path / "v1")


def _readme_parameter_counts() -> dict[str, int]:
    text = README.read_text()
    section = text[text.index("<!-- section: models -->") : text.index("<!-- /section: models -->")]
    rows = re.findall(r"^\| `([\w-]+)` \|[^|]*\| ([\d,]+) \|", section, flags=re.MULTILINE)
    return {name: int(count.replace(",", "")) for name, count in rows}


def test_readme_model_table_lists_every_model_with_its_paper_256_parameter_count():
    expected = {
        name: sum(p.numel() for p in _meta_model(name, "paper-256").parameters())
        for name in model_names()
        if "paper-256" in preset_names(name)
    }
    assert _readme_parameter_counts() == expected
