"""Models: Glow, Full-Glow and the paper's baselines, built by name through the registry.

The flows share one core: `levels` (the walk over levels for one or two streams), `flow_model`
(what every flow shares: latents, initialisation, saving) and `conditional_flow` (the API of
`p(x | cond)`); `glow`, `full_glow`, `c_glow` and `dual_glow` only wire the shared parts.
`saved` is the on-disk format, `io.load_model` loads any saved model by name, `registry` builds
models from presets.
"""

from fullglow.models.c_glow import CGlow, CGlowConfig, CGlowV1, CGlowV2
from fullglow.models.conditional_flow import ConditionalFlow, FlowLoss
from fullglow.models.config import ConditionalFlowConfig, FullGlowConfig, GlowConfig
from fullglow.models.dual_glow import DualGlow, DualGlowConfig
from fullglow.models.full_glow import FullGlow
from fullglow.models.glow import Glow
from fullglow.models.pix2pix import Pix2Pix, Pix2PixConfig
from fullglow.models.registry import build_config, build_model, model_names, preset_names

__all__ = [
    "CGlow",
    "CGlowConfig",
    "CGlowV1",
    "CGlowV2",
    "ConditionalFlow",
    "ConditionalFlowConfig",
    "DualGlow",
    "DualGlowConfig",
    "FlowLoss",
    "FullGlow",
    "FullGlowConfig",
    "Glow",
    "GlowConfig",
    "Pix2Pix",
    "Pix2PixConfig",
    "build_config",
    "build_model",
    "model_names",
    "preset_names",
]
