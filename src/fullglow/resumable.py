"""Settings of a resumable pipeline (the demo, the study): stored as JSON in its output folder's
marker, read back, and compared with a re-run's to tell whether it may resume that folder."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, TypeVar

from fullglow.errors import UserInputError

Settings = TypeVar("Settings", bound="ResumableSettings")


class ResumableSettings:
    """Mixin of a frozen dataclass of settings. `RESUMABLE_FIELDS` names the fields a re-run into
    the same folder may change (they do not alter what is already done); `KIND` names the
    pipeline in messages."""

    RESUMABLE_FIELDS: ClassVar[frozenset[str]] = frozenset()
    KIND: ClassVar[str] = "pipeline"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls: type[Settings], values: dict[str, Any], where: str) -> Settings:
        """The settings stored in `values` (read from `where`).

        Raises:
            UserInputError: a name that is not a field, or a value the settings refuse.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(f"{where}: unknown {cls.KIND} settings {unknown}")
        return cls(**values)

    def incompatible(self, stored: ResumableSettings) -> dict[str, tuple[Any, Any]]:
        """`{field: (stored, self)}` for the fields that differ and a re-run may not change."""
        mine, theirs = self.to_dict(), stored.to_dict()
        return {
            k: (theirs[k], mine[k])
            for k in mine
            if mine[k] != theirs[k] and k not in self.RESUMABLE_FIELDS
        }
