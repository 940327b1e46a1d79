"""Configuration dataclasses of the flow models, their validation and (de)serialisation."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from fullglow.conditional.networks import ConditioningConfig
from fullglow.config_checks import check_at_least, check_between, check_types
from fullglow.layers.coupling import check_coupling

MAX_BITS = 8
"""Photos are 8-bit: `n_bits` (the bits per colour channel the flow models) is 1..8."""


def per_block(value: int | tuple[int, ...] | list[int], n_blocks: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n_blocks
    return tuple(int(v) for v in value)


def validate_flow_geometry(
    image_size: tuple[int, int], n_blocks: int, n_flows: tuple[int, ...]
) -> None:
    """Raise `ValueError` unless both sides divide by `2**n_blocks` and `n_flows` has one entry a block."""
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be at least 1, got {n_blocks}")
    factor = 2**n_blocks
    height, width = image_size
    if height % factor or width % factor or height <= 0 or width <= 0:
        raise ValueError(
            f"image size {height}x{width} must have both sides divisible by 2**n_blocks = "
            f"{factor} (n_blocks = {n_blocks})"
        )
    if len(n_flows) != n_blocks or min(n_flows) < 1:
        raise ValueError(
            f"n_flows must be a positive int or one positive int per block ({n_blocks}), got "
            f"{list(n_flows)}"
        )


@dataclass(frozen=True)
class GlowConfig:
    """Unconditional multi-scale Glow (Kingma & Dhariwal 2018).

    `n_flows` is the number of flow steps per block (an int, or one int per block); `coupling`:
    "affine" (the default, the paper's) or "additive" (volume-preserving, see
    `fullglow.layers.coupling.AdditiveCoupling`); `scale_floor`: the affine coupling's smallest
    scale `f` in `s = f + (1 - f) sigmoid(o1 + 2)` (0, the default, is the paper's).
    """

    image_size: tuple[int, int] = (64, 64)
    in_channels: int = 3
    n_blocks: int = 3
    n_flows: tuple[int, ...] | int = 8
    hidden_channels: int = 512
    n_bits: int = 8
    coupling: str = "affine"
    scale_floor: float = 0.0

    def __post_init__(self) -> None:
        check_types(self)
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        object.__setattr__(self, "n_flows", per_block(self.n_flows, self.n_blocks))
        validate_flow_geometry(self.image_size, self.n_blocks, self.n_flows)
        check_coupling(self.coupling, self.scale_floor)
        check_at_least(self, 1, "in_channels", "hidden_channels")
        check_between(self, "n_bits", 1, MAX_BITS)


@dataclass(frozen=True)
class ConditionalFlowConfig:
    """The options every conditional flow has (Full-Glow, C-Glow, Dual-Glow).

    `image_size` `(H, W)`, both divisible by `2**n_blocks`; `in_channels`: the target photo's
    channels; `cond_channels`: the condition's (the colour label image: 3); `n_flows`: steps per
    block (an int, or one per block); `hidden_channels`: width of the coupling networks;
    `side_channels`: side information (an instance-boundary map: 1) concatenated to every
    conditioning network's input; `n_bits`: bits per colour channel of the data; `coupling`:
    "affine" (the paper's) or "additive" (an inverse that cannot overflow; not the paper's), for
    every flow step of the model, the source Glow's included; `scale_floor`: the affine
    coupling's smallest scale `f` in `s = f + (1 - f) sigmoid(o1 + 2)` (0 is the paper's; 0.05
    keeps its likelihood and removes most diverged decodings, see the README).
    """

    image_size: tuple[int, int] = (256, 256)
    in_channels: int = 3
    cond_channels: int = 3
    n_blocks: int = 4
    n_flows: tuple[int, ...] | int = 16
    hidden_channels: int = 512
    side_channels: int = 0
    n_bits: int = 8
    coupling: str = "affine"
    scale_floor: float = 0.0

    def __post_init__(self) -> None:
        check_types(self)
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        object.__setattr__(self, "n_flows", per_block(self.n_flows, self.n_blocks))
        validate_flow_geometry(self.image_size, self.n_blocks, self.n_flows)
        check_coupling(self.coupling, self.scale_floor)
        check_at_least(self, 1, "in_channels", "cond_channels", "hidden_channels")
        check_at_least(self, 0, "side_channels")
        check_between(self, "n_bits", 1, MAX_BITS)

    def source_config(self) -> GlowConfig:
        """The Glow over the condition image, as deep as the target (Full-Glow, Dual-Glow)."""
        return GlowConfig(
            image_size=self.image_size,
            in_channels=self.cond_channels,
            n_blocks=self.n_blocks,
            n_flows=self.n_flows,
            hidden_channels=self.hidden_channels,
            n_bits=self.n_bits,
            coupling=self.coupling,
            scale_floor=self.scale_floor,
        )


@dataclass(frozen=True)
class FullGlowConfig(ConditionalFlowConfig):
    """Full-Glow (paper section 4): a source Glow over the condition and a fully conditional target Glow.

    The shared options, plus `source_weight` (the lambda of eq. 11) and `conditioning` (the shapes
    of the conditioning networks).
    """

    source_weight: float = 1e-4
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, 0, "source_weight")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from `config_to_dict`'s output; lists become tuples."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            kwargs[name] = config_from_dict(kind, value)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
