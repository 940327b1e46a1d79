"""Gaussian priors of the multi-scale architecture, written as invertible standardisations.

A prior `N(z; mean, exp(log_sd)^2)` is expressed as the affine map `eps = (z - mean) / exp(log_sd)`
with `logdet = -sum(log_sd)`, followed by a standard normal on `eps`. Encoding then returns the
standardised latents `eps` that sampling draws, and `log p(x) = sum log N(eps; 0, I) + logdet`.
Sampling at temperature `T` decodes `T * randn`, i.e. `z = mean + T * exp(log_sd) * randn`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fullglow.layers.nets import ZeroConv2d


def _check_features(expected: int, features: Tensor | None) -> None:
    if (features is None) != (expected == 0):
        raise ValueError(
            f"prior expects {expected} feature channels, got "
            f"{'none' if features is None else features.shape[1]}"
        )


class GaussianSplit(nn.Module):
    """Split off half of the channels as a latent whose Gaussian prior is predicted from the rest.

    `x = cat(kept, z)`, `(mean, log_sd) = ZeroConv(cat(kept, features))`, output
    `cat(kept, (z - mean) / exp(log_sd))`. The model peels the second half off as the level's
    latent. `features` (optional) condition the prior (Dual-Glow). Shapes: `(B, C, H, W)` both ways.
    """

    def __init__(self, channels: int, feature_channels: int = 0) -> None:
        super().__init__()
        self.half = channels // 2
        self.feature_channels = feature_channels
        self.prior = ZeroConv2d(self.half + feature_channels, 2 * (channels - self.half))

    def _mean_log_sd(self, kept: Tensor, features: Tensor | None) -> tuple[Tensor, Tensor]:
        _check_features(self.feature_channels, features)
        h = kept if features is None else torch.cat([kept, features], dim=1)
        mean, log_sd = self.prior(h).chunk(2, dim=1)
        return mean, log_sd

    def forward(self, x: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        kept, z = x[:, : self.half], x[:, self.half :]
        mean, log_sd = self._mean_log_sd(kept, features)
        eps = (z - mean) * torch.exp(-log_sd)
        return torch.cat([kept, eps], dim=1), -log_sd.flatten(1).sum(dim=1)

    def inverse(self, y: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        kept, eps = y[:, : self.half], y[:, self.half :]
        mean, log_sd = self._mean_log_sd(kept, features)
        z = mean + eps * torch.exp(log_sd)
        return torch.cat([kept, z], dim=1), log_sd.flatten(1).sum(dim=1)


class TopPrior(nn.Module):
    """The last level's prior: a learned per-channel Gaussian, or one predicted from `features`.

    Without features, `(mean, log_sd)` are learned constants per channel, starting at `(0, 0)`
    (what Glow's `ZeroConv(zeros)` amounts to). With `feature_channels > 0` they come from a
    zero-initialised convolution of the features (Dual-Glow's conditional prior).
    """

    def __init__(self, channels: int, feature_channels: int = 0) -> None:
        super().__init__()
        self.feature_channels = feature_channels
        if feature_channels:
            self.prior = ZeroConv2d(feature_channels, 2 * channels)
        else:
            self.mean = nn.Parameter(torch.zeros(1, channels, 1, 1))
            self.log_sd = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def _mean_log_sd(self, like: Tensor, features: Tensor | None) -> tuple[Tensor, Tensor]:
        _check_features(self.feature_channels, features)
        if features is not None:
            mean, log_sd = self.prior(features).chunk(2, dim=1)
            return mean, log_sd
        return self.mean.expand_as(like), self.log_sd.expand_as(like)

    def forward(self, z: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mean, log_sd = self._mean_log_sd(z, features)
        return (z - mean) * torch.exp(-log_sd), -log_sd.flatten(1).sum(dim=1)

    def inverse(self, eps: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mean, log_sd = self._mean_log_sd(eps, features)
        return mean + eps * torch.exp(log_sd), log_sd.flatten(1).sum(dim=1)
