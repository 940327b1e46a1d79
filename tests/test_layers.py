"""Contract tests for every invertible layer, conditional ones included (float64, perturbed)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from flow_checks import jacobian_logdet, params_without_grad, perturb
from fullglow.conditional import (
    ConditionalActNorm,
    ConditionalCoupling,
    ConditionalFlowStep,
    ConditionalInvConv1x1,
    ConditioningConfig,
)
from fullglow.layers import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    FlowStep,
    GaussianSplit,
    InvConv1x1,
    Squeeze,
    StepTrace,
    TopPrior,
    make_coupling,
)

CN = ConditioningConfig(
    mlp_conv_channels=(4, 3, 2), mlp_hidden_features=(8, 6), coupling_channels=6
)


@dataclass
class Case:
    """A layer, an input shape, and the extra arguments (conditions) for a batch size."""

    layer: nn.Module
    shape: tuple[int, ...]
    extra: Callable[[int], tuple[Tensor | StepTrace, ...]] = lambda b: ()


def _cond(channels: int, size: tuple[int, int]) -> Callable[[int], tuple[Tensor, ...]]:
    gen = torch.Generator().manual_seed(7)
    full = torch.randn(8, channels, *size, generator=gen, dtype=torch.float64)
    return lambda b: (full[:b],)


def _trace(channels: int, size: tuple[int, int]) -> Callable[[int], tuple[StepTrace]]:
    gen = torch.Generator().manual_seed(8)
    parts = [torch.randn(8, channels, *size, generator=gen, dtype=torch.float64) for _ in range(3)]
    return lambda b: (StepTrace(*(p[:b] for p in parts)),)


def _cases() -> dict[str, Callable[[], Case]]:
    return {
        "squeeze": lambda: Case(Squeeze(), (2, 4, 4)),
        "actnorm": lambda: Case(ActNorm(4), (4, 3, 3)),
        "invconv": lambda: Case(InvConv1x1(4), (4, 3, 3)),
        "coupling": lambda: Case(AffineCoupling(4, 8), (4, 3, 3)),
        "coupling_features": lambda: Case(
            AffineCoupling(4, 8, feature_channels=2), (4, 3, 3), _cond(2, (3, 3))
        ),
        "floored_coupling": lambda: Case(AffineCoupling(4, 8, scale_floor=0.1), (4, 3, 3)),
        "additive_coupling": lambda: Case(AdditiveCoupling(4, 8), (4, 3, 3)),
        "additive_coupling_features": lambda: Case(
            AdditiveCoupling(4, 8, feature_channels=2), (4, 3, 3), _cond(2, (3, 3))
        ),
        "split": lambda: Case(GaussianSplit(4), (4, 3, 3)),
        "split_features": lambda: Case(GaussianSplit(4, 3), (4, 3, 3), _cond(3, (3, 3))),
        "top_prior": lambda: Case(TopPrior(4), (4, 3, 3)),
        "top_prior_features": lambda: Case(TopPrior(4, 2), (4, 3, 3), _cond(2, (3, 3))),
        "flow_step": lambda: Case(FlowStep(4, 8), (4, 3, 3)),
        "flow_step_additive": lambda: Case(FlowStep(4, 8, coupling="additive"), (4, 3, 3)),
        "cond_actnorm": lambda: Case(
            ConditionalActNorm(4, 3, (3, 3), CN), (4, 3, 3), _cond(3, (3, 3))
        ),
        "cond_actnorm_valid": lambda: Case(
            ConditionalActNorm(2, 3, (8, 8), CN), (2, 8, 8), _cond(3, (8, 8))
        ),
        "cond_invconv": lambda: Case(
            ConditionalInvConv1x1(4, 3, (3, 3), CN), (4, 3, 3), _cond(3, (3, 3))
        ),
        "cond_coupling": lambda: Case(
            ConditionalCoupling(4, 3, 8, CN), (4, 3, 3), _cond(3, (3, 3))
        ),
        "cond_flow_step": lambda: Case(
            ConditionalFlowStep(4, 5, (3, 3), 8, CN), (4, 3, 3), _trace(5, (3, 3))
        ),
        "cond_flow_step_side": lambda: Case(
            ConditionalFlowStep(4, 5, (3, 3), 8, CN, side_channels=1),
            (4, 3, 3),
            lambda b: (*_trace(5, (3, 3))(b), *_cond(1, (3, 3))(b)),
        ),
    }


CASES = _cases()


def _prepared(name: str, dtype: torch.dtype = torch.float64) -> tuple[nn.Module, Case]:
    case = CASES[name]()
    layer = case.layer.to(dtype)
    perturb(layer)
    layer.eval()
    return layer, case


def _extra(case: Case, b: int, dtype: torch.dtype) -> tuple:
    def cast(v: Tensor | StepTrace) -> Tensor | StepTrace:
        if isinstance(v, StepTrace):
            return StepTrace(*(t.to(dtype) for t in (v.actnorm, v.invconv, v.coupling)))
        return v.to(dtype)

    return tuple(cast(v) for v in case.extra(b))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_inverse_recovers_input_and_logdets_cancel(name: str, dtype: torch.dtype, tol: float):
    layer, case = _prepared(name, dtype)
    x = torch.randn(3, *case.shape, dtype=dtype)
    extra = _extra(case, 3, dtype)
    y, logdet = layer(x, *extra)
    x_back, inverse_logdet = layer.inverse(y, *extra)
    assert logdet.shape == (3,)
    assert torch.allclose(x_back, x, atol=tol, rtol=0)
    assert torch.allclose(logdet, -inverse_logdet, atol=tol * 10, rtol=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_logdet_matches_autograd_jacobian(name: str):
    layer, case = _prepared(name)
    x = torch.randn(1, *case.shape, dtype=torch.float64)
    extra = _extra(case, 1, torch.float64)
    expected = jacobian_logdet(lambda v: layer(v, *extra)[0], x)
    assert torch.allclose(layer(x, *extra)[1], expected.reshape(1), atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_per_sample_do_not_depend_on_the_batch(name: str):
    layer, case = _prepared(name)
    x = torch.randn(4, *case.shape, dtype=torch.float64)
    extra = _extra(case, 4, torch.float64)
    y, logdet = layer(x, *extra)
    back, _ = layer.inverse(y, *extra)
    for i in range(4):
        single = tuple(
            StepTrace(e.actnorm[i : i + 1], e.invconv[i : i + 1], e.coupling[i : i + 1])
            if isinstance(e, StepTrace)
            else e[i : i + 1]
            for e in extra
        )
        y_i, logdet_i = layer(x[i : i + 1], *single)
        assert torch.allclose(y_i, y[i : i + 1], atol=1e-12)
        assert torch.allclose(logdet_i, logdet[i : i + 1], atol=1e-10)
        assert torch.allclose(layer.inverse(y_i, *single)[0], back[i : i + 1], atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_parameter_gets_a_gradient(name: str):
    layer, case = _prepared(name)
    x = torch.randn(2, *case.shape, dtype=torch.float64, requires_grad=True)
    y, logdet = layer(x, *_extra(case, 2, torch.float64))
    (y.square().sum() + logdet.sum()).backward()
    assert params_without_grad(layer) == []


def test_actnorm_initialises_to_zero_mean_unit_variance():
    layer = ActNorm(3).train()
    x = 5 + 3 * torch.randn(8, 3, 4, 4)
    y, _ = layer(x)
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    layer(torch.randn(8, 3, 4, 4))  # a second batch does not re-initialise
    assert torch.allclose(layer(x)[0], y)


def test_conditional_actnorm_initialises_to_zero_mean_unit_variance_per_channel():
    layer = ConditionalActNorm(4, 3, (8, 8), CN).train()
    x = 2 - 4 * torch.randn(6, 4, 8, 8)
    y, logdet = layer(x, torch.randn(6, 3, 8, 8))
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(4), atol=1e-4)
    std = x.std(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(logdet, -64 * torch.log(std + 1e-6).sum().expand(6), atol=1e-4)


def test_conditional_invconv_starts_with_the_sampled_rotation_for_every_sample():
    layer = ConditionalInvConv1x1(6, 3, (4, 4), CN)
    weights = layer.weight(torch.randn(5, 3, 4, 4))
    eye = torch.eye(6).expand(5, 6, 6)
    assert torch.allclose(weights @ weights.transpose(1, 2), eye, atol=1e-5)  # a rotation
    assert torch.allclose(weights, weights[:1].expand_as(weights), atol=1e-6)  # the same one


def test_conditional_invconv_gives_each_sample_its_own_kernel():
    layer = ConditionalInvConv1x1(4, 3, (4, 4), CN)
    perturb(layer, scale=0.2)
    weights = layer.weight(torch.randn(2, 3, 4, 4))
    assert not torch.allclose(weights[0], weights[1], atol=1e-3)


def test_couplings_start_near_the_identity():
    x = torch.randn(2, 4, 3, 3)
    for layer, extra in [
        (AffineCoupling(4, 8), ()),
        (ConditionalCoupling(4, 3, 8, CN), (torch.randn(2, 3, 3, 3),)),
    ]:
        y, logdet = layer(x, *extra)
        scale = torch.sigmoid(torch.tensor(2.0))
        assert torch.equal(y[:, :2], x[:, :2])
        assert torch.allclose(y[:, 2:], x[:, 2:] * scale, atol=1e-6)
        assert torch.allclose(logdet, 18 * torch.log(scale).expand(2), atol=1e-5)


def test_additive_couplings_start_as_the_identity_and_preserve_volume():
    x = torch.randn(2, 4, 3, 3)
    for layer, extra in [
        (AdditiveCoupling(4, 8), ()),
        (ConditionalCoupling(4, 3, 8, CN, coupling="additive"), (torch.randn(2, 3, 3, 3),)),
    ]:
        y, logdet = layer(x, *extra)
        assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(2))
    with pytest.raises(ValueError, match=r"coupling must be one of \('affine', 'additive'\)"):
        make_coupling("spline", 4, 8)
    with pytest.raises(ValueError, match="applies to the affine coupling"):
        make_coupling("additive", 4, 8, scale_floor=0.1)


def test_a_scale_floor_bounds_what_the_affine_inverse_multiplies_by():
    layer = AffineCoupling(4, 8, scale_floor=0.1)
    perturb(layer, scale=0.5)
    with torch.no_grad():
        layer.net.net[-1].conv.bias[:2] = -1e4  # o1 far below: s = sigmoid(o1 + 2) would be 0
    y = torch.randn(2, 4, 3, 3)
    x, logdet = layer.inverse(y)
    # s -> 0.1 exactly: the inverse multiplies the second half by 10, and log-det is 18 log 10.
    torch.testing.assert_close(x[:, 2:] + layer._scale_shift(y[:, :2], None)[1], 10 * y[:, 2:])
    torch.testing.assert_close(logdet, torch.full((2,), 18 * math.log(10.0)))
    paper = AffineCoupling(4, 8)
    paper.load_state_dict(layer.state_dict())
    assert not torch.isfinite(paper.inverse(y)[0]).all()  # sigmoid(-1e4) = 0: division by 0
    with pytest.raises(ValueError, match=r"scale_floor must be in \[0, 1\)"):
        AffineCoupling(4, 8, scale_floor=1.0)


def test_conditioning_network_rejects_a_wrong_size():
    layer = ConditionalActNorm(4, 3, (8, 8), CN)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(3, 8, 8\), got \(3, 8, 16\)"):
        layer(torch.randn(1, 4, 8, 8), torch.randn(1, 3, 8, 16))
