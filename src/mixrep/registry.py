"""One registry per extension axis (faults, feature families, conditioning mechanisms, separators).

A registry maps the name written in config.yaml, run names and output tables to the object that implements
it. Everything that lists the axis (schema enums, config validation, run names, docs tables, rerun hashes) is
derived from, or checked against, the registry, so adding an entry is: its own module + one `register` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Named entries of one axis, kept in registration order (the order configs, docs and grids list them)."""

    axis: str  # e.g. "fault", "feature family": used in error messages
    entries: dict[str, T] = field(default_factory=dict)

    def register(self, name: str, entry: T) -> T:
        if not name or not name.replace("_", "").isalnum() or name != name.lower():
            raise ValueError(f"{self.axis} name {name!r}: use lower-case letters, digits and `_`")
        if name in self.entries:
            raise ValueError(f"{self.axis} {name!r} is registered twice")
        self.entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self.entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.axis} {name!r} (known: {list(self.entries)})") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
