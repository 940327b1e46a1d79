"""The fixed models, inputs and summary numbers of the pinned-model tests (imported by tests).

`pinned_model(name)` builds a tiny model at a fixed seed in float64, initialises its actnorms on a
fixed batch and moves its weights off their initial values; `summaries(model)` computes the numbers
that `test_pinned_models.py` compares with those the code gave when they were pinned: the loss,
the sum of its squared gradients, the per-sample `log_prob`, and the sum, sum of squares and a few
entries of a decoded sample (a sampled generator output for pix2pix). The saved models under
`tests/data/saved_models/` were written by `write_saved_models` from the same models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from flow_checks import perturb
from fullglow import build_model
from fullglow.conditional import ConditioningConfig

PINNED = ["glow", "fullglow", "cglow-v1", "cglow-v2", "dualglow", "pix2pix"]
SIZE = (8, 16)
SMALL_CONDITIONING = ConditioningConfig(
    mlp_conv_channels=(2, 2), mlp_hidden_features=(4,), coupling_channels=4
)
OPTIONS = {
    "glow": {},
    # The paper's coupling, which these values were pinned with (the tiny preset's has a floor).
    "fullglow": {"conditioning": SMALL_CONDITIONING, "coupling": "affine", "scale_floor": 0.0},
    "cglow-v1": {"conditioning": SMALL_CONDITIONING, "feature_channels": 4},
    "cglow-v2": {"conditioning": SMALL_CONDITIONING, "feature_channels": 4},
    "dualglow": {"prior_channels": 4},
}
"""Per flow model, what shrinks its tiny preset further (tens of KB saved)."""
SAVED = Path(__file__).parent / "data" / "saved_models"


def inputs(batch: int = 2) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(batch, 3, *SIZE, generator=gen, dtype=torch.float64)
    cond = torch.rand(batch, 3, *SIZE, generator=gen, dtype=torch.float64)
    return x, cond


def pinned_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "pix2pix":
        model = build_model(name, preset="tiny", image_size=(32, 32)).double()
    else:
        shape = {"image_size": SIZE, "n_blocks": 2, "n_flows": (2, 1), "hidden_channels": 4}
        model = build_model(name, preset="tiny", **shape, **OPTIONS[name]).double()
    if name == "glow":
        model.initialize(inputs(4)[0])
    elif name != "pix2pix":
        model.initialize(*inputs(4))
    perturb(model, scale=0.02)
    return model.eval()


def summaries(model: nn.Module) -> dict[str, list[float]]:
    """The pinned numbers of `model` on the fixed inputs (float64)."""
    x, cond = inputs()
    gen = torch.Generator().manual_seed(5)
    if model.name == "pix2pix":
        x32, cond32 = (torch.nn.functional.interpolate(t, size=(32, 32)) for t in (x, cond))
        loss = model.loss(x32, cond32)
        log_prob = torch.zeros(0)
        sample = model.sample(cond32, generator=gen)
    elif model.name == "glow":
        loss, log_prob = model.loss(x), model.log_prob(x)
        sample = model.sample(2, temperature=0.8, generator=gen)
    else:
        loss, log_prob = model.loss(x, cond), model.log_prob(x, cond)
        sample = model.sample(cond, temperature=0.8, generator=gen)
    model.zero_grad()
    loss.backward()
    gradients = sum(float((p.grad**2).sum()) for p in model.parameters() if p.grad is not None)
    with torch.no_grad():
        flat = sample.flatten()
        return {
            "loss": [loss.item()],
            "gradients": [gradients],
            "log_prob": log_prob.tolist(),
            "sample": [
                flat.sum().item(),
                (flat**2).sum().item(),
                *flat[:: len(flat) // 6].tolist(),
            ],
        }


def write_saved_models(root: Path = SAVED) -> None:
    """Save every pinned flow model under `root/<name>` (how `tests/data/saved_models` was made)."""
    for name in PINNED:
        if name != "pix2pix":
            pinned_model(name).float().save(root / name)
