"""The presets' loss and `log_prob` at a fixed seed, pinned before the quality options (issue 15).

New options (pooled conditioning, noise-augmented training, guidance, EMA) must leave every
existing preset's model exactly as it was: same parameters drawn from the same seed, same
forward pass. Each preset is built at a small image size with 2 flow steps per block (the rest
of the preset as it is: widths, conditioning networks, coupling, lambda), in float64, actnorm
initialised on one batch and every parameter moved off its initial value so that no layer is
the identity. `paper-256` and `paper-512x1024` differ only in size and depth, which are the two
fields overridden here, so their Full-Glow pins coincide.
"""

from __future__ import annotations

import pytest
import torch

from flow_checks import perturb
from fullglow import build_config, build_model

SIZES = {2: (16, 16), 3: (16, 32), 4: (16, 32)}
"""Image size by the preset's number of blocks (both sides divisible by 2**n_blocks)."""

PINNED = {
    ("cglow-v1", "demo"): (8.242589497858283, -123.637906548665, -134.64084131527954),
    ("cglow-v1", "paper-256"): (8.237990710912992, -253.20207928885202, -253.5629980168958),
    ("cglow-v1", "tiny"): (8.238352546781714, -122.87155387686096, -130.89622204279715),
    ("cglow-v2", "demo"): (8.228697223955368, -236.14637587994753, -250.8296322707315),
    ("cglow-v2", "paper-256"): (8.18734244551763, -199.33261854483135, -199.58466911392043),
    ("cglow-v2", "tiny"): (8.240032199895193, -120.07755918258692, -135.47849985248024),
    ("dualglow", "demo"): (8.24322375091102, -241.28133844155604, -274.87469244516296),
    ("dualglow", "paper-256"): (8.23418565000386, -283.690625459476, -213.22870853280892),
    ("dualglow", "tiny"): (8.23859514299603, -122.34045568283102, -130.80705859418617),
    ("fullglow", "demo"): (8.230203641906183, -241.0226276505914, -247.41177582230694),
    ("fullglow", "paper-256"): (8.19632404077313, -216.67916527720058, -199.61962157219136),
    ("fullglow", "paper-512x1024"): (8.19632404077313, -216.67916527720058, -199.61962157219136),
    ("fullglow", "standard"): (8.171145460860684, -185.00437782983818, -177.68281300062085),
    ("fullglow", "tiny"): (8.222566894892898, -115.65122425225661, -120.4329412320443),
    ("glow", "demo"): (8.227332157170949, -241.27556060258757, -242.79374513151652),
    ("glow", "paper-256"): (8.177340829506916, -185.73987509527205, -191.88049012727197),
    ("glow", "tiny"): (8.241127356229715, -128.142783672483, -128.57925991382137),
}
"""`(loss, log_prob[0], log_prob[1])` of the code before issue 15's options; Full-Glow's `demo`
and `tiny` re-pinned when their default coupling became additive (`standard` added then), and
all three again when it became the affine one with `scale_floor=0.5`."""


def _loss_and_log_prob(name: str, preset: str) -> tuple[float, float, float]:
    torch.manual_seed(0)
    size = SIZES[build_config(name, preset).n_blocks]
    model = build_model(name, preset=preset, image_size=size, n_flows=2).double()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, *size, generator=gen, dtype=torch.float64)
    cond = torch.rand(2, 3, *size, generator=gen, dtype=torch.float64)
    inputs = (x,) if name == "glow" else (x, cond)
    model.initialize(*inputs)
    perturb(model, 0.005)
    model.eval()
    with torch.no_grad():
        loss, log_prob = model.loss(*inputs), model.log_prob(*inputs)
    return loss.item(), log_prob[0].item(), log_prob[1].item()


@pytest.mark.parametrize("name,preset", sorted(PINNED))
def test_preset_loss_and_log_prob_are_unchanged(name: str, preset: str):
    assert _loss_and_log_prob(name, preset) == pytest.approx(PINNED[name, preset], rel=1e-10)
