"""Registry of models and their presets: `build_model(name, preset=..., **options)`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from fullglow.conditional.networks import ConditioningConfig
from fullglow.models.c_glow import CGLOW_V1_PRESETS, CGLOW_V2_PRESETS, CGlowV1, CGlowV2
from fullglow.models.config import FullGlowConfig, GlowConfig, config_from_dict
from fullglow.models.dual_glow import DUALGLOW_PRESETS, DualGlow
from fullglow.models.full_glow import FullGlow
from fullglow.models.glow import Glow
from fullglow.models.pix2pix import PRESETS as PIX2PIX_PRESETS
from fullglow.models.pix2pix import Pix2Pix


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model: its class, named presets and default preset."""

    model_class: type[nn.Module]
    presets: dict[str, Any]
    default_preset: str = "paper-256"

    @property
    def config_class(self) -> type:
        """The model's config dataclass (the class's `config_class`)."""
        return self.model_class.config_class


GLOW_PRESETS = {
    "paper-256": GlowConfig(image_size=(256, 256), n_blocks=4, n_flows=16, hidden_channels=512),
    "demo": GlowConfig(image_size=(32, 64), n_blocks=3, n_flows=4, hidden_channels=64),
    "tiny": GlowConfig(image_size=(16, 16), n_blocks=2, n_flows=2, hidden_channels=16),
}

FULLGLOW_PRESETS = {
    "paper-256": FullGlowConfig(
        image_size=(256, 256), n_blocks=4, n_flows=16, hidden_channels=512, source_weight=1e-4
    ),
    "paper-512x1024": FullGlowConfig(
        image_size=(512, 1024), n_blocks=4, n_flows=8, hidden_channels=512, source_weight=1e-4
    ),
    # Outside the paper presets, Full-Glow's affine coupling has a scale floor of 0.5: its inverse
    # then multiplies by at most 2 per step, and over 3 seeds of 1000 steps no sample (at any
    # T <= 1) and no transfer diverged, at the paper coupling's val BPD (README, "Options for
    # better photos"; the paper's coupling diverged in 164 of 288 samples at T = 1 and 158 of
    # 168 transfers, the additive one in none, 0.19 bits/dim worse).
    "demo": FullGlowConfig(
        image_size=(32, 64), n_blocks=3, n_flows=4, hidden_channels=64, scale_floor=0.5
    ),
    "tiny": FullGlowConfig(
        image_size=(16, 16), n_blocks=2, n_flows=2, hidden_channels=16, scale_floor=0.5
    ),
    # General purpose: size-independent (pooled conditioning, 57.3 M parameters at any size).
    "standard": FullGlowConfig(
        image_size=(256, 512),
        n_blocks=4,
        n_flows=8,
        hidden_channels=512,
        scale_floor=0.5,
        conditioning=ConditioningConfig(pool_size=(4, 8)),
    ),
}

MODELS: dict[str, ModelSpec] = {
    "glow": ModelSpec(Glow, GLOW_PRESETS),
    "fullglow": ModelSpec(FullGlow, FULLGLOW_PRESETS),
    "cglow-v1": ModelSpec(CGlowV1, CGLOW_V1_PRESETS),
    "cglow-v2": ModelSpec(CGlowV2, CGLOW_V2_PRESETS),
    "dualglow": ModelSpec(DualGlow, DUALGLOW_PRESETS),
    "pix2pix": ModelSpec(Pix2Pix, PIX2PIX_PRESETS),
}


def model_names() -> list[str]:
    return sorted(MODELS)


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {model_names()}")
    return MODELS[name]


def preset_names(name: str) -> list[str]:
    return sorted(_spec(name).presets)


def _all_option_names() -> set[str]:
    return {f.name for spec in MODELS.values() for f in dataclasses.fields(spec.config_class)}


def build_config(name: str, preset: str | None = None, **options: Any) -> Any:
    """The model's preset config with `options` replaced.

    Options that another model knows but this one does not (e.g. `n_flows` for pix2pix) are ignored,
    so that one set of options can build every model; unknown names raise `ValueError`. A nested
    config option given as a dict replaces only the fields it names. `coupling="additive"` drops
    the preset's `scale_floor` (a field of the affine coupling) unless the options name one.
    """
    spec = _spec(name)
    preset = preset or spec.default_preset
    if preset not in spec.presets:
        raise ValueError(
            f"model {name!r} has no preset {preset!r}; choose one of {preset_names(name)}"
        )
    unknown = set(options) - _all_option_names()
    if unknown:
        raise ValueError(f"unknown model options {sorted(unknown)}")
    own = {f.name for f in dataclasses.fields(spec.config_class)}
    base = dataclasses.asdict(spec.presets[preset])
    for key, value in options.items():
        if key not in own or value is None:
            continue
        # A nested config given as a dict (`conditioning={"pool_size": (4, 8)}`) changes only
        # the fields it names; the preset keeps the others.
        merge = isinstance(value, dict) and isinstance(base[key], dict)
        base[key] = {**base[key], **value} if merge else value
    if (
        options.get("coupling") == "additive"
        and "scale_floor" in own
        and "scale_floor" not in options
    ):
        base["scale_floor"] = 0.0
    return config_from_dict(spec.config_class, base)


def build_model(name: str, preset: str | None = None, **options: Any) -> nn.Module:
    """Build a model by its registry name (e.g. `"fullglow"`) from a preset plus options."""
    return _spec(name).model_class(build_config(name, preset, **options))


def model_from_config(name: str, config: dict[str, Any]) -> nn.Module:
    spec = _spec(name)
    return spec.model_class(config_from_dict(spec.config_class, config))
