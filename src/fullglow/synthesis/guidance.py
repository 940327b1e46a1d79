"""Guided sampling of a conditional flow: every conditional operation's parameters pushed away
from those it takes under a null label (classifier-free guidance, as TarFlow does for flows).

A conditional flow decodes a latent with operations whose parameters `theta(c)` are computed
from the condition `c`: Full-Glow's conditional actnorm and 1x1 convolution (their conditioning
networks' outputs), its conditional couplings (the coupling network's output `(o1, o2)`, which
reads the condition's features), and in C-Glow and Dual-Glow the priors that read the condition.
The guided sampler decodes the same latent with

    theta_w = theta_null + w * (theta(c) - theta_null),       theta_null = theta(c_null),

at every such operation (`torch.lerp`, so `w = 1` gives `theta(c)` and `w = 0` gives
`theta_null` exactly). Each operation stays invertible, so the guided sampler is an exact,
invertible map of the latent for each sample; but it is no longer the model's density: `log p`
does not describe guided samples. A model is guided meaningfully when it was trained with label
dropout (`TrainConfig.label_dropout`), so that `theta_null` is what it learned without a label.

How: the batch is doubled, `(latents, latents)` decoded under `(c, c_null)`, and a forward hook
on every parameter-producing module replaces both halves of its output by the mix. Both halves
then see the same parameters at every step and stay equal; the first is returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from fullglow.conditional.networks import ConditioningMLP
from fullglow.layers.coupling import AdditiveCoupling, AffineCoupling
from fullglow.layers.priors import GaussianSplit, TopPrior


def conditional_parameter_modules(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are parameters of a conditional operation of `model`'s decoder:
    actnorm / 1x1-convolution conditioning networks, the networks of couplings that read
    features, and the convolutions of priors that read features."""
    found: list[nn.Module] = []
    for module in model.modules():
        if isinstance(module, ConditioningMLP):
            found.append(module)
        elif isinstance(module, AffineCoupling | AdditiveCoupling) and module.feature_channels:
            found.append(module.net)
        elif isinstance(module, GaussianSplit | TopPrior) and module.feature_channels:
            found.append(module.prior)
    return found


@contextmanager
def guided(model: nn.Module, weight: float) -> Iterator[None]:
    """While active, `model` runs guided on doubled batches `(inputs under c, inputs under
    c_null)`: the output `cat(out_c, out_null)` of each `conditional_parameter_modules` module
    becomes `cat(mix, mix)`, `mix = lerp(out_null, out_c, weight)`. Encoding and decoding alike.

    Raises:
        ValueError: a model without conditional operations.
    """
    modules = conditional_parameter_modules(model)
    if not modules:
        raise ValueError(f"{type(model).__name__} has no conditional operations to guide")

    def mix(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        conditional, null = output.chunk(2, dim=0)
        mixed = torch.lerp(null, conditional, weight)
        return torch.cat([mixed, mixed], dim=0)

    handles = [module.register_forward_hook(mix) for module in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def guided_sample(
    model: nn.Module,
    cond: Tensor,
    null_cond: Tensor,
    weight: float,
    temperature: float = 0.8,
    generator: torch.Generator | None = None,
    side: Tensor | None = None,
    null_side: Tensor | None = None,
) -> Tensor:
    """Photos `(B, C, H, W)` for labels `cond` `(B, 3, H, W)` at guidance `weight` `w`.

    The latents are drawn as `model.sample` draws them (the same `generator` gives the same
    latents); `null_cond` (and `null_side`) is the null label, of `cond`'s shape. `w = 1` is the
    conditional sampler, `w = 0` the null one, `w > 1` pushes away from the null label.

    Raises:
        ValueError: a model without conditional operations, or mismatched shapes.
    """
    if null_cond.shape != cond.shape:
        raise ValueError(f"null_cond has shape {tuple(null_cond.shape)}, cond {tuple(cond.shape)}")
    latents = [
        temperature
        * torch.randn(cond.shape[0], *s, generator=generator, device=cond.device, dtype=cond.dtype)
        for s in model.latent_shapes()
    ]
    doubled_side = None
    if side is not None:
        doubled_side = torch.cat([side, side if null_side is None else null_side])
    with guided(model, weight):
        photos = model.decode(
            [torch.cat([z, z]) for z in latents], torch.cat([cond, null_cond]), doubled_side
        )
    return photos[: cond.shape[0]]


def null_label(cond: Tensor) -> Tensor:
    """The null label for `cond` `(B, 3, H, W)`: every pixel "unlabeled" (colour (0, 0, 0)), the
    label that `TrainConfig.label_dropout` trains on."""
    return torch.zeros_like(cond)
