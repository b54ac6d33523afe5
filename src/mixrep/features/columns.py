"""The feature table's columns: their names, units, families and sentinels, assembled from the families.

Every feature column is `<family>.<target>.<name>` with family one of the registered feature families
(`mixrep.features.families.FAMILIES`: dynamics, spectral, stereo, masking; each declares its `Feature`s in
its own module) and target one of the four stems (`mixrep.stems.STEMS`) or `mix` (the sum of the stems).
Columns are float32. The column set is fixed (it does not depend on the data or the settings), so per-shard
tables always concatenate and a model's input width is known before any audio is read.

Sentinels: a target whose RMS is at or below `features.silence_threshold_db` is not measured; its columns
hold `sentinel` (levels at FLOOR_DB, shape measures 0, masking 0) and `dynamics.<target>.active` is 0.
Every dB value is also floored at FLOOR_DB, so the table never holds -inf or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixrep.stems import STEMS

KEY_COLUMNS: tuple[str, ...] = ("track_id", "variant_id", "segment")
TARGETS: tuple[str, ...] = (*STEMS, "mix")
FLOOR_DB = -120.0

# Octave bands of the spectral family: centres 1000 * 2**k Hz, edges at centre * 2**(+-1/2); the lowest
# band reaches down to 20 Hz and the highest up to Nyquist. Names are the nominal centres.
BAND_CENTRES_HZ: tuple[float, ...] = tuple(1000.0 * 2.0 ** k for k in range(-4, 5))
BAND_NAMES: tuple[str, ...] = ("63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k")
LOWEST_BAND_FROM_HZ = 20.0


@dataclass(frozen=True)
class ColumnSpec:
    """One feature column: where it sits, what it means, and the value it takes for a silent target."""

    family: str
    target: str
    feature: str
    unit: str
    description: str
    sentinel: float

    @property
    def name(self) -> str:
        return f"{self.family}.{self.target}.{self.feature}"


@dataclass(frozen=True)
class Feature:
    """One feature of a family, measured on every target (or on the stems only, or on the mix only).

    `needs_s`: the seconds of audio its measure needs (a shorter encoder view holds NaN for it:
    `mixrep.features.extract.undefined_columns`); 0 = defined on any length.
    """

    feature: str
    unit: str
    description: str
    sentinel: float
    stems_only: bool = False
    mix_only: bool = False
    needs_s: float = 0.0

    def targets(self) -> tuple[str, ...]:
        if self.stems_only:
            return STEMS
        return ("mix",) if self.mix_only else TARGETS


def column_specs() -> list[ColumnSpec]:
    """Every feature column, family-major (registry order), then target (stems, mix), then feature."""
    from mixrep.features.families import FAMILIES  # the families import this module for Feature

    specs: list[ColumnSpec] = []
    for name in FAMILIES:
        family = FAMILIES.get(name)
        for target in TARGETS:
            for item in family.features:
                if target in item.targets():
                    specs.append(ColumnSpec(name, target, item.feature, item.unit, item.description,
                                            item.sentinel))
    return specs


def feature_columns() -> list[str]:
    """Names of all feature columns, in table order (without the key columns)."""
    return [spec.name for spec in column_specs()]


def family_columns(family: str | tuple[str, ...] | list[str]) -> list[str]:
    """Feature columns of one family (or several), in table order; e.g. for a `no_masking` ablation cell."""
    from mixrep.features.families import FAMILIES

    wanted = (family,) if isinstance(family, str) else tuple(family)
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown feature families {unknown}; known: {list(FAMILIES.names())}")
    return [spec.name for spec in column_specs() if spec.family in wanted]


def sentinels() -> dict[str, float]:
    """Column name -> the value a silent (inactive) target takes."""
    return {spec.name: spec.sentinel for spec in column_specs()}


def markdown_table() -> str:
    """The column documentation as a Markdown table (docs/features.md holds its output).

    `<target>` is any of the four stems or `mix`, `<stem>` a stem only.
    """
    lines = ["| column pattern | unit | silent | definition |", "|---|---|---|---|"]
    seen: set[tuple[str, str]] = set()
    for spec in column_specs():
        key = (spec.family, spec.feature)
        if key in seen:
            continue
        seen.add(key)
        targets = [s.target for s in column_specs() if (s.family, s.feature) == key]
        scope = "<target>" if len(targets) == len(TARGETS) else ("<stem>" if "mix" not in targets else "mix")
        description = spec.description.replace("|", "\\|")
        lines.append(f"| `{spec.family}.{scope}.{spec.feature}` | {spec.unit} | {spec.sentinel:g} | "
                     f"{description} |")
    return "\n".join(lines)
