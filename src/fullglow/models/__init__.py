"""Models: Glow, Full-Glow and the paper's baselines, built by name through the registry."""

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
