"""Activation normalisation (Glow, Kingma & Dhariwal 2018, section 3.1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DataInitialized(nn.Module):
    """A layer initialised from the first batch it sees in training mode (or `initialize`).

    The `initialized` flag is a buffer, so that it is saved with the weights; a Python copy of it
    spares the check on every training forward pass a read of the device (on a GPU, one
    synchronisation per layer and step). Loading a state dict makes the copy read the buffer again.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("initialized", torch.tensor(False))
        self._known_initialized: bool | None = None

    def needs_initialization(self) -> bool:
        """True on a training forward pass of a layer not yet initialised."""
        if not self.training:
            return False
        if self._known_initialized is None:
            self._known_initialized = bool(self.initialized)
        return not self._known_initialized

    def mark_initialized(self) -> None:
        self.initialized.fill_(True)
        self._known_initialized = True

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._known_initialized = None


class ActNorm(DataInitialized):
    """Per-channel affine map `y = exp(log_scale) * (x + bias)` with data-dependent initialisation.

    The scale is parametrised in log space so that it can never cross zero. On the first forward
    call in training mode (or `initialize`), `bias = -mean` and `log_scale = -log(std + 1e-6)` of
    that batch, so the output has zero mean and unit variance per channel.
    `logdet = H * W * sum(log_scale)` per sample. Shapes: `(B, C, H, W) -> (B, C, H, W)`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.mark_initialized()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.needs_initialization():
            self.initialize(x)
        h, w = x.shape[2:]
        logdet = (h * w * self.log_scale.sum()).expand(x.shape[0])
        return (x + self.bias) * torch.exp(self.log_scale), logdet

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        h, w = y.shape[2:]
        logdet = (h * w * self.log_scale.sum()).expand(y.shape[0])
        return y * torch.exp(-self.log_scale) - self.bias, -logdet
