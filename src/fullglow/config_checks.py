"""Validation shared by the configuration dataclasses: every field has its annotated type, and
numbers lie in their allowed ranges, checked in `__post_init__` so that a config that exists is
valid.

Values arrive from the command line (`--hidden-channels abc` is the string "abc"), from JSON files
and from Python; a wrong one is refused here with a one-line `UserInputError` that names the field
and what it allows, before any model is built or any file written.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

from fullglow.errors import UserInputError


class ConfigFieldError(UserInputError):
    """A config field with a wrong value: `field`, and `problem` (what it must be, what it got),
    so that a command line can name its own option for the field (`--hidden-channels`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def _matches(value: Any, hint: Any) -> bool:
    """Whether `value` has the type `hint` (lists stand for tuples: JSON has no tuples)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if origin is Literal:
        return any(value == option and type(value) is type(option) for option in hint.__args__)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple | list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args, strict=True)
        )
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    """`hint` in words, for an error message."""
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    if origin is Literal:
        *first, last = (repr(option) for option in hint.__args__)
        return f"{', '.join(first)} or {last}" if first else last
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}s"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin is dict:
        return "a JSON object"
    if dataclasses.is_dataclass(hint):
        names = ", ".join(f.name for f in dataclasses.fields(hint))
        return f"a JSON object with the fields {names}"
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def check_types(config: Any) -> None:
    """Raise `ConfigFieldError` for the first field of the dataclass `config` whose value does not
    have its annotated type (`hidden_channels must be an integer, got 'abc'`)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _matches(value, hints[f.name]):
            raise ConfigFieldError(f.name, f"must be {_describe(hints[f.name])}, got {value!r}")


def check_at_least(config: Any, minimum: float, *names: str) -> None:
    """Raise `ConfigFieldError` unless each named field (a number, or a list of numbers) is
    finite and >= `minimum`."""
    for name in names:
        value = getattr(config, name)
        values = value if isinstance(value, tuple | list) else (value,)
        if not all(math.isfinite(v) and v >= minimum for v in values):
            raise ConfigFieldError(name, f"must be >= {minimum:g}, got {value!r}")


def check_between(config: Any, name: str, low: float, high: float) -> None:
    """Raise `ConfigFieldError` unless the field `name` lies in `[low, high]`."""
    value = getattr(config, name)
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigFieldError(name, f"must be in [{low:g}, {high:g}], got {value!r}")
