"""Print the Markdown table of the registered models' parameter counts at one preset.

    python benchmarks/param_counts.py [--preset paper-256] [--pool-size 4x8]

`--pool-size hxw` builds the models with pooled conditioning (`ConditioningConfig.pool_size`;
the models without actnorm/1x1-convolution conditioning networks are unchanged by it).

Models without that preset are left out. The models are built on PyTorch's `meta` device:
parameters get their shapes but no memory or initialisation, so even the 256x256 models take a
second or two. The README's `models` section holds this script's output for `paper-256`.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from fullglow.cli.args import image_size
from fullglow.models.registry import build_model, model_names, preset_names

DESCRIPTIONS = {
    "glow": "Unconditional Glow (Kingma & Dhariwal 2018), the source stack of Full-Glow and Dual-Glow.",
    "fullglow": "Full-Glow: a source Glow over the labels and a target Glow whose every actnorm, "
    "1x1 convolution and coupling is conditioned on the source step at the same place.",
    "cglow-v1": "C-Glow (Lu & Huang 2019), v1: one Glow conditioned everywhere on the raw label "
    "image; a shallower Glow and deeper conditioning networks.",
    "cglow-v2": "C-Glow v2: the same with a Glow as deep as Full-Glow's and shallower "
    "conditioning networks.",
    "dualglow": "Dual-Glow (Sun et al. 2019): a source and a target Glow; the target's priors "
    "are predicted from the source latents of the same level.",
    "pix2pix": "pix2pix (Isola et al. 2017): U-Net generator and 70x70 PatchGAN discriminator "
    "(GAN + 100 L1); no likelihood.",
}


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def depth(model: nn.Module) -> str:
    """`blocks x steps` of a flow (steps per block joined by `/` when they differ), or the U-Net depth."""
    config = model.config
    if hasattr(config, "n_flows"):
        steps = sorted(set(config.n_flows))
        return f"{config.n_blocks} x {'/'.join(str(s) for s in steps)}"
    return f"U-Net depth {config.depth}"


def parts(model: nn.Module) -> str:
    """The parameter counts of the model's top-level parts, in millions."""
    return ", ".join(
        f"{name} {parameter_count(child) / 1e6:.1f} M" for name, child in model.named_children()
    )


def table(preset: str, pool_size: tuple[int, int] | None = None) -> str:
    options = {} if pool_size is None else {"conditioning": {"pool_size": pool_size}}
    pooled = "" if pool_size is None else f", pooled {pool_size[0]}x{pool_size[1]}"
    rows = [
        f"| Model (`--model`) | Blocks x steps | Parameters at `{preset}`{pooled} | Parts | "
        "What it is |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for name in (n for n in model_names() if preset in preset_names(n)):
        with torch.device("meta"):
            model = build_model(name, preset=preset, **options)
        count = parameter_count(model)
        rows.append(
            f"| `{name}` | {depth(model)} | {count:,} | {parts(model)} | "
            f"{DESCRIPTIONS.get(name, '')} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper-256")
    parser.add_argument("--pool-size", type=image_size, default=None, metavar="hxw")
    args = parser.parse_args()
    print(table(args.preset, args.pool_size))


if __name__ == "__main__":
    main()
