"""The flows on a CUDA device: exact inversion, the CPU's log-likelihoods, batch independence,
training steps in both modes and a short end-to-end run (skipped without CUDA;
`benchmarks/gpu_check.sh` runs them with `pytest -m cuda`)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor

from flow_checks import perturb
from fullglow import build_model
from fullglow.layers.nets import set_channels_last
from fullglow.likelihood import bits_per_dim
from fullglow.training import load_trained_model, train
from fullglow.training.batches import Batch
from fullglow.training.config import TrainConfig
from fullglow.training.objectives import make_objective
from test_training_support import latest_checkpoint, tiny_config

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CONDITIONAL_FLOWS = ["fullglow", "cglow-v1", "cglow-v2", "dualglow"]
SMALL = {"image_size": (16, 32), "n_blocks": 2, "n_flows": 2, "hidden_channels": 32}
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def _full_float32():
    """Exact float32 convolutions and products (no TF32), so that CUDA and CPU agree closely."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _batch(b: int, model: torch.nn.Module, device: torch.device) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(3)
    h, w = model.config.image_size
    x = torch.rand(b, model.config.in_channels, h, w, generator=gen)
    cond = torch.rand(b, model.config.cond_channels, h, w, generator=gen)
    return x.to(device), cond.to(device)


def _cpu_model(name: str) -> torch.nn.Module:
    """A float32 model initialised on the CPU and moved away from its identity start."""
    model = build_model(name, preset="tiny", **SMALL)
    model.initialize(*_batch(4, model, torch.device("cpu")))
    perturb(model, scale=0.02)
    return model.eval()


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_decode_inverts_encode_on_cuda(name):
    model = _cpu_model(name).to(CUDA)
    x, cond = _batch(3, model, CUDA)
    with torch.no_grad():
        latents = model.encode(x, cond)
        assert all(z.device == x.device for z in latents)
        assert torch.allclose(model.decode(latents, cond), x, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_cuda_log_prob_matches_the_cpu_in_float64(name):
    cpu = _cpu_model(name)
    gpu = copy.deepcopy(cpu).to(CUDA)
    x, cond = _batch(3, cpu, torch.device("cpu"))
    with torch.no_grad():
        expected = cpu.double().log_prob(x.double(), cond.double())
        actual = gpu.log_prob(x.to(CUDA), cond.to(CUDA)).cpu().double()
    dims = cpu.num_dims
    assert torch.allclose(
        bits_per_dim(actual, dims, 8), bits_per_dim(expected, dims, 8), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_cuda_per_sample_log_prob_does_not_depend_on_the_batch(name):
    model = _cpu_model(name).to(CUDA)
    x, cond = _batch(4, model, CUDA)
    with torch.no_grad():
        together = model.log_prob(x, cond)
        alone = torch.cat([model.log_prob(x[i : i + 1], cond[i : i + 1]) for i in range(4)])
    dims = model.num_dims
    assert torch.allclose(
        bits_per_dim(together, dims, 8), bits_per_dim(alone, dims, 8), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_channels_last_networks_give_the_same_results_on_cuda(name):
    model = _cpu_model(name).to(CUDA)
    x, cond = _batch(2, model, CUDA)
    with torch.no_grad():
        set_channels_last(model, False)
        plain = model.log_prob(x, cond)
        set_channels_last(model, True)
        channels_last = model.log_prob(x, cond)
        assert torch.allclose(model.decode(model.encode(x, cond), cond), x, atol=1e-4)
    assert torch.allclose(plain, channels_last, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", CONDITIONAL_FLOWS)
def test_training_steps_on_cuda_plain_and_memory_saving_agree(name):
    """Both modes from the same weights: same loss and gradients, finite steps that move the weights."""
    start = _cpu_model(name).train().to(CUDA)
    x, cond = _batch(2, start, CUDA)
    batch = Batch(x, cond, None, x, cond)
    grads, first_losses = {}, {}
    for memory_saving in (False, True):
        model = copy.deepcopy(start)
        model.memory_saving = memory_saving
        objective = make_objective(model, TrainConfig(model=name, steps=3, lr=1e-3), 3)
        outcomes = [objective.step(model, batch)]
        grads[memory_saving] = [p.grad.clone() for p in model.parameters()]
        outcomes += [objective.step(model, batch) for _ in range(2)]
        assert all(o.finite for o in outcomes)
        assert outcomes[-1].terms["loss"] < outcomes[0].terms["loss"]
        first_losses[memory_saving] = outcomes[0].terms["loss"]
    assert first_losses[False] == pytest.approx(first_losses[True], abs=1e-5)
    for plain, saving in zip(grads[False], grads[True], strict=True):
        assert torch.allclose(plain, saving, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("memory_saving", [False, True])
def test_a_short_training_run_on_cuda_validates_samples_and_reloads(
    synthetic_root, tmp_path, memory_saving
):
    config = tiny_config(
        synthetic_root,
        device="cuda",
        steps=4,
        val_every=2,
        val_batches=1,
        sample_every=4,
        n_samples=2,
        memory_saving=memory_saving,
    )
    result = train(config, tmp_path / "run")
    assert result.steps == 4 and result.final_val is not None
    assert list((tmp_path / "run" / "samples").glob("*.png"))
    assert latest_checkpoint(tmp_path / "run")["step"] == 4
    on_cpu, _ = load_trained_model(tmp_path / "run", map_location="cpu")
    on_gpu, _ = load_trained_model(tmp_path / "run", map_location=CUDA)
    x, cond = _batch(2, on_cpu, torch.device("cpu"))
    with torch.no_grad():
        expected = on_cpu.log_prob(x, cond)
        actual = on_gpu.log_prob(x.to(CUDA), cond.to(CUDA)).cpu()
    assert torch.isfinite(expected).all()
    dims = on_cpu.num_dims
    assert torch.allclose(
        bits_per_dim(actual, dims, 8), bits_per_dim(expected, dims, 8), atol=1e-4, rtol=0
    )
