"""Parameter ranges of the faults: how a settings field is declared and how a value is drawn from it.

A fault's settings dataclass (one per config section, see `mixrep.degrade.faults`) holds `[low, high]` pairs
declared with `pair(...)`, `magnitude_pair(...)` (signed parameters: gain, EQ gain, tilt, pan; the range is
the *magnitude* and the sign is drawn separately, so a fault is never drawn as a near no-op) or
`positive_pair(...)` (drawn log-uniformly); `check_ranges` refuses a reversed pair or a non-positive bound of
a positive pair. Drawn values are rounded to 3 decimals so recipes read well (rendering uses the rounded
values).
"""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any

import numpy as np

Range = tuple[float, float]
_DECIMALS = 3


def pair(default: Range, help: str) -> Any:
    """A `[low, high]` settings field."""
    return field(default=default, metadata={"help": help})


def magnitude_pair(default: Range, help: str) -> Any:
    """A `[low, high]` settings field of a magnitude: the sign is drawn separately (`signed`)."""
    return field(default=default, metadata={"help": help, "signed": True})


def positive_pair(default: Range, help: str) -> Any:
    """A `[low, high]` settings field with positive bounds (drawn log-uniformly)."""
    return field(default=default, metadata={"help": help, "positive": True})


def value(default: Any, help: str) -> Any:
    """A fixed (not drawn) settings field."""
    return field(default=default, metadata={"help": help})


def check_ranges(settings: Any, prefix: str, flat: bool = False) -> None:
    """ValueError naming `prefix.field` (`prefix` when `flat`) for a reversed pair or a non-positive bound."""
    for item in fields(settings):
        bounds = getattr(settings, item.name)
        if not (isinstance(bounds, tuple) and len(bounds) == 2):
            continue
        where = prefix if flat else f"{prefix}.{item.name}"
        low, high = bounds
        if low > high:
            raise ValueError(f"{where}: low {low} > high {high}")
        if item.metadata.get("positive") and low <= 0:
            raise ValueError(f"{where}: needs positive bounds, got {list(bounds)}")


def _round(x: float) -> float:
    return round(float(x), _DECIMALS)


def uniform(rng: np.random.Generator, bounds: Range) -> float:
    return _round(rng.uniform(*bounds))


def log_uniform(rng: np.random.Generator, bounds: Range) -> float:
    low, high = bounds
    if low <= 0:
        raise ValueError(f"log-uniform range needs positive bounds, got {bounds}")
    return _round(np.exp(rng.uniform(np.log(low), np.log(high))))


def signed(rng: np.random.Generator, bounds: Range) -> float:
    """A magnitude from `bounds` with a random sign (drawn first)."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return _round(sign * rng.uniform(*bounds))
