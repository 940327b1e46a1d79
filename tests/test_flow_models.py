"""Contract tests shared by every conditional flow model (Full-Glow and the flow baselines)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from flow_checks import jacobian_logdet, params_without_grad, perturb
from fullglow import FullGlow, FullGlowConfig, Glow, GlowConfig, build_config, build_model
from fullglow.conditional import ConditionalActNorm, ConditionalCoupling, ConditionalInvConv1x1
from fullglow.layers import set_bf16
from fullglow.likelihood import standard_normal_log_prob

CONDITIONAL_FLOWS = ["fullglow", "cglow-v1", "cglow-v2", "dualglow"]
CONDITIONAL_FLOWS += [f"{name}+pooled" for name in ("fullglow", "cglow-v1", "cglow-v2")]
"""Registry names, and `name+variant`: the model built with the options `VARIANTS[variant]`."""
VARIANTS = {"pooled": {"conditioning": {"pool_size": (2, 3)}}}
SMALL = {"image_size": (8, 16), "n_blocks": 2, "n_flows": 2, "hidden_channels": 8}


def _model(name: str, dtype: torch.dtype = torch.float64, **options) -> torch.nn.Module:
    name, _, variant = name.partition("+")
    options = {**SMALL, **VARIANTS.get(variant, {}), **options}
    model = build_model(name, preset="tiny", **options).to(dtype)
    x, cond = _batch(4, model, dtype)
    model.initialize(x, cond)
    perturb(model, scale=0.02)
    return model.eval()


def _batch(
    b: int, model: torch.nn.Module, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(3)
    h, w = model.config.image_size
    x = torch.rand(b, model.config.in_channels, h, w, generator=gen, dtype=dtype)
    cond = torch.rand(b, model.config.cond_channels, h, w, generator=gen, dtype=dtype)
    return x, cond


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_decode_inverts_encode(name: str, dtype: torch.dtype, tol: float):
    model = _model(name, dtype)
    x, cond = _batch(3, model, dtype)
    latents = model.encode(x, cond)
    assert [tuple(z.shape[1:]) for z in latents] == model.latent_shapes()
    assert torch.allclose(model.decode(latents, cond), x, atol=tol, rtol=0)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_log_prob_is_latent_density_plus_jacobian_logdet(name: str):
    model = _model(name, image_size=(8, 8))
    x, cond = _batch(1, model)

    def latents_of(v: Tensor) -> Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v, cond)], dim=1)

    logdet = jacobian_logdet(latents_of, x)
    expected = standard_normal_log_prob(latents_of(x)) + logdet
    assert torch.allclose(model.log_prob(x, cond), expected, atol=1e-7)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
@pytest.mark.parametrize(
    "variant,layer",
    [
        ({"coupling": "additive"}, "AdditiveCoupling"),
        ({"coupling": "affine", "scale_floor": 0.05}, "AffineCoupling"),
    ],
)
def test_coupling_variants_keep_the_flow_contract(name: str, variant: dict, layer: str):
    model = _model(name, image_size=(8, 8), **variant)
    couplings = [
        m for m in model.modules() if type(m).__name__ in ("AffineCoupling", "AdditiveCoupling")
    ]
    assert {type(m).__name__ for m in couplings} == {layer}
    assert all(getattr(m, "scale_floor", 0.0) == variant.get("scale_floor", 0.0) for m in couplings)
    x, cond = _batch(2, model)
    assert torch.allclose(model.decode(model.encode(x, cond), cond), x, atol=1e-10, rtol=0)

    def latents_of(v: Tensor) -> Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v, cond[:1])], dim=1)

    expected = standard_normal_log_prob(latents_of(x[:1])) + jacobian_logdet(latents_of, x[:1])
    assert torch.allclose(model.log_prob(x[:1], cond[:1]), expected, atol=1e-7)
    _assert_memory_saving_matches_plain(model, x, cond)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_per_sample_results_do_not_depend_on_the_batch(name: str):
    model = _model(name)
    x, cond = _batch(4, model)
    log_prob = model.log_prob(x, cond)
    latents = model.encode(x, cond)
    for i in range(4):
        one = slice(i, i + 1)
        assert torch.allclose(model.log_prob(x[one], cond[one]), log_prob[one], atol=1e-10)
        for z_batch, z_single in zip(latents, model.encode(x[one], cond[one]), strict=True):
            assert torch.allclose(z_single, z_batch[one], atol=1e-12)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_every_parameter_receives_a_gradient_from_the_loss(name: str):
    model = _model(name).train()
    # 8 samples: with 2, a ReLU of the tiny conditioning networks is dead for both in 3 of 70
    # (seed, model) draws, and its network gets no gradient; with 8, in none of them.
    x, cond = _batch(8, model)
    model.loss(x, cond).backward()
    assert params_without_grad(model) == []


def _assert_memory_saving_matches_plain(model: torch.nn.Module, x: Tensor, cond: Tensor) -> None:
    """The memory-saving backward gives the plain loss and every parameter's gradient."""
    model.train()

    def loss_and_grads(memory_saving: bool) -> tuple[Tensor, list[Tensor]]:
        model.zero_grad()
        model.memory_saving = memory_saving
        loss = model.loss(x, cond)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    plain_loss, plain_grads = loss_and_grads(False)
    saving_loss, saving_grads = loss_and_grads(True)
    assert torch.allclose(plain_loss, saving_loss, atol=1e-12)
    for plain, saving in zip(plain_grads, saving_grads, strict=True):
        assert torch.allclose(plain, saving, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_memory_saving_gives_the_same_loss_and_gradients(name: str):
    model = _model(name)
    _assert_memory_saving_matches_plain(model, *_batch(2, model))


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_sampling_temperature_zero_is_deterministic_and_a_generator_reproduces(name: str):
    model = _model(name, torch.float32)
    _, cond = _batch(2, model, torch.float32)
    assert torch.equal(model.sample(cond, temperature=0.0), model.sample(cond, temperature=0.0))
    first = model.sample(cond, 0.8, generator=torch.Generator().manual_seed(5))
    again = model.sample(cond, 0.8, generator=torch.Generator().manual_seed(5))
    other = model.sample(cond, 0.8, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    gen = torch.Generator().manual_seed(5)
    latents = [0.8 * torch.randn(2, *s, generator=gen) for s in model.latent_shapes()]
    assert torch.allclose(first, model.decode(latents, cond))


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_save_and_load_round_trip(name: str, tmp_path):
    model = _model(name, torch.float32)
    x, cond = _batch(2, model, torch.float32)
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m").eval()
    assert loaded.config == model.config
    assert torch.equal(loaded.log_prob(x, cond), model.log_prob(x, cond))


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
@pytest.mark.parametrize(
    "bad,message",
    [
        (lambda x, c: (x[:, :2], c), r"x must have shape \(B, 3, 8, 16\), got \(2, 2, 8, 16\)"),
        (lambda x, c: (x, c[:1]), r"x has batch size 2, expected 1"),
        (lambda x, c: (x, c[..., :8]), r"cond must have shape \(B, 3, 8, 16\), got \(2, 3, 8, 8\)"),
        (lambda x, c: (x.clone().fill_(float("nan")), c), r"x contains NaN or inf"),
        (lambda x, c: (x, c.clone().fill_(float("inf"))), r"cond contains NaN or inf"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_expected_and_actual(name, bad, message):
    model = _model(name, torch.float32)
    x, cond = bad(*_batch(2, model, torch.float32))
    with pytest.raises(ValueError, match=message):
        model.log_prob(x, cond)


@pytest.mark.parametrize(
    "size,blocks",
    [((16, 16), 2), ((32, 64), 3), ((8, 24), 3), ((48, 16), 4), ((12, 16), 3), ((8, 20), 3)],
)
def test_full_glow_builds_for_any_size_divisible_by_two_to_the_blocks(size, blocks):
    if size[0] % 2**blocks or size[1] % 2**blocks:
        with pytest.raises(ValueError, match=f"divisible by 2\\*\\*n_blocks = {2**blocks}"):
            FullGlowConfig(image_size=size, n_blocks=blocks, n_flows=1, hidden_channels=4)
        return
    model = FullGlow(FullGlowConfig(image_size=size, n_blocks=blocks, n_flows=1, hidden_channels=4))
    x, cond = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    model.initialize(x, cond)
    model.eval()
    assert torch.allclose(model.decode(model.encode(x, cond), cond), x, atol=1e-5)


def test_per_block_flow_counts_and_side_information():
    cfg = FullGlowConfig(
        image_size=(16, 16), n_blocks=2, n_flows=[1, 3], hidden_channels=4, side_channels=1
    )
    model = FullGlow(cfg)
    assert [len(level.steps) for level in model.target_levels] == [1, 3]
    x, cond, side = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), torch.rand(2, 1, 16, 16)
    model.initialize(x, cond, side)
    perturb(model, scale=0.02)
    model.eval()
    z = model.encode(x, cond, side)
    assert torch.allclose(model.decode(z, cond, side), x, atol=1e-5)
    assert not torch.allclose(model.log_prob(x, cond, side), model.log_prob(x, cond, 1 - side))
    with pytest.raises(ValueError, match="side must be given"):
        model.log_prob(x, cond)


def test_loss_is_weighted_sum_of_bits_per_dim():
    model = _model("fullglow", torch.float64)
    x, cond = _batch(2, model)
    terms = model(x, cond)
    d = x[0].numel()
    expected_target = (
        (-model.log_prob(x, cond) + d * torch.log(torch.tensor(256.0)))
        / (d * torch.log(torch.tensor(2.0)))
    ).mean()
    expected_source = (
        (-model.source_log_prob(cond) + d * torch.log(torch.tensor(256.0)))
        / (d * torch.log(torch.tensor(2.0)))
    ).mean()
    assert torch.allclose(terms.target_bpd, expected_target)
    assert torch.allclose(terms.source_bpd, expected_source)
    assert torch.allclose(terms.total, 1e-4 * expected_source + expected_target)


def test_glow_inverts_and_matches_its_jacobian():
    model = Glow(GlowConfig(image_size=(8, 8), n_blocks=2, n_flows=2, hidden_channels=8)).double()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    model.initialize(x)
    perturb(model, scale=0.02)
    model.eval()
    assert torch.allclose(model.decode(model.encode(x)), x, atol=1e-10)

    def latents_of(v: Tensor) -> Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v)], dim=1)

    expected = standard_normal_log_prob(latents_of(x[:1])) + jacobian_logdet(latents_of, x[:1])
    assert torch.allclose(model.log_prob(x[:1]), expected, atol=1e-7)


def test_fresh_top_prior_gives_the_closed_form_standard_normal_density():
    """A 1-block Glow with no flow steps is squeeze + the top prior, N(0, I) at initialisation."""
    model = Glow(GlowConfig(image_size=(4, 4), n_blocks=1, n_flows=1, hidden_channels=4))
    model.levels[0].steps = torch.nn.ModuleList()
    x = torch.rand(2, 3, 4, 4)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(x - 0.5).flatten(1).sum(1)
    assert torch.allclose(model.log_prob(x), expected, atol=1e-5)


def test_full_glow_target_operations_read_the_same_operation_of_the_same_source_step():
    """Paper, section 4: target step `(l, k)`'s conditional actnorm, 1x1 convolution and coupling
    read the outputs of the actnorm, 1x1 convolution and coupling of source step `(l, k)`."""
    model = _model("fullglow")
    outputs: dict[tuple[int, int, str], Tensor] = {}
    conditions: dict[tuple[int, int, str], Tensor] = {}
    hooks = []
    for l, (source, target) in enumerate(
        zip(model.source.levels, model.target_levels, strict=True)
    ):
        for k, (s_step, t_step) in enumerate(zip(source.steps, target.steps, strict=True)):
            for op in ("actnorm", "invconv", "coupling"):

                def keep_output(m, args, out, key=(l, k, op)) -> None:  # noqa: ANN001
                    outputs[key] = out[0]

                def keep_condition(m, args, out, key=(l, k, op)) -> None:  # noqa: ANN001
                    conditions[key] = args[1]

                hooks.append(getattr(s_step, op).register_forward_hook(keep_output))
                hooks.append(getattr(t_step, op).register_forward_hook(keep_condition))
    targets = (ConditionalActNorm, ConditionalInvConv1x1, ConditionalCoupling)
    assert sum(isinstance(m, targets) for m in model.modules()) == len(hooks) // 2
    x, cond = _batch(2, model)
    model.log_prob(x, cond)
    for hook in hooks:
        hook.remove()
    assert conditions.keys() == outputs.keys() and len(outputs) == 3 * sum(model.config.n_flows)
    for key, condition in conditions.items():
        assert torch.equal(condition, outputs[key]), key
    # The three outputs differ, so reading the wrong one could not pass unnoticed.
    assert not torch.allclose(outputs[0, 0, "actnorm"], outputs[0, 0, "invconv"])


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_bf16_networks_keep_the_loss_to_1e_4_bits_per_dim_and_an_exact_log_det(name: str):
    """`set_bf16`'s claim (fullglow.layers.nets): the loss moves by under 1e-4 bits/dim and each
    log-det stays exactly that of the map applied."""
    model = _model(name, torch.float32, image_size=(8, 8))
    x, cond = _batch(2, model, torch.float32)
    plain, plain_latents = model.loss(x, cond), model.encode(x, cond)
    set_bf16(model, True)
    networks = [m for m in model.modules() if getattr(m, "mixed_precision", False)]
    assert networks and all(m.bf16 for m in networks)
    assert abs(model.loss(x, cond).item() - plain.item()) < 1e-4
    assert not all(map(torch.equal, model.encode(x, cond), plain_latents))  # bfloat16 did run

    def latents_of(v: Tensor) -> Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v, cond[:1])], dim=1)

    expected = standard_normal_log_prob(latents_of(x[:1])) + jacobian_logdet(latents_of, x[:1])
    assert torch.allclose(model.log_prob(x[:1], cond[:1]), expected, rtol=1e-5, atol=1e-3)


def test_choosing_the_additive_coupling_drops_the_presets_scale_floor():
    assert build_config("fullglow", "demo").scale_floor > 0  # the preset's floor
    additive = build_config("fullglow", "demo", coupling="additive")
    assert (additive.coupling, additive.scale_floor) == ("additive", 0.0)
    assert build_config("fullglow", "paper-256", coupling="affine").scale_floor == 0.0
    with pytest.raises(ValueError, match="scale_floor applies to the affine coupling"):
        build_config("fullglow", "demo", coupling="additive", scale_floor=0.5)
