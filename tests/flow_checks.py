"""Property checks shared by the layer and model test suites (imported by tests, not collected)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def perturb(module: nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    """Move every parameter away from its initial value, so that no layer is the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device))


def jacobian_logdet(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """`log|det d fn(x) / dx|` for a single sample `x` of shape `(1, ...)`, via autograd."""

    def flat(v: Tensor) -> Tensor:
        return fn(v.reshape(x.shape)).reshape(-1)

    jac = torch.autograd.functional.jacobian(flat, x.reshape(-1), vectorize=True)
    sign, logabsdet = torch.linalg.slogdet(jac)
    assert sign != 0
    return logabsdet


def params_without_grad(module: nn.Module) -> list[str]:
    return [
        name
        for name, p in module.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))
    ]
