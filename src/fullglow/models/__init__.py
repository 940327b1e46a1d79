"""Models: Glow, Full-Glow and the paper's baselines, built by name through the registry."""

from fullglow.models.config import FullGlowConfig, GlowConfig
from fullglow.models.full_glow import FlowLoss, FullGlow
from fullglow.models.glow import Glow
from fullglow.models.registry import build_config, build_model, model_names, preset_names

__all__ = [
    "FlowLoss",
    "FullGlow",
    "FullGlowConfig",
    "Glow",
    "GlowConfig",
    "build_config",
    "build_model",
    "model_names",
    "preset_names",
]
