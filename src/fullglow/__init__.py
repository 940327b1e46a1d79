"""fullglow: Full-Glow, a fully conditional Glow for label-to-photo synthesis, and its baselines."""

from fullglow.likelihood import bits_per_dim, dequantize
from fullglow.models import (
    FlowLoss,
    FullGlow,
    FullGlowConfig,
    Glow,
    GlowConfig,
    build_config,
    build_model,
    model_names,
)

__version__ = "0.1.0"

__all__ = [
    "FlowLoss",
    "FullGlow",
    "FullGlowConfig",
    "Glow",
    "GlowConfig",
    "bits_per_dim",
    "build_config",
    "build_model",
    "dequantize",
    "model_names",
]
