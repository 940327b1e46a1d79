"""fullglow: Full-Glow, a fully conditional Glow for label-to-photo synthesis, and its baselines."""

__version__ = "0.1.0"
