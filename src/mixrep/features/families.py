"""The feature families: one registry entry per family, the only list of them (docs/EXTENDING.md).

A family is a module that declares its columns (`FEATURES`, a tuple of `columns.Feature`) and computes them
(`compute(analysis, settings) -> {target: {feature: value}}` from the shared `analysis.Analysis`), optionally
with a `SETTINGS` dataclass, plus one `FAMILIES.register` line below. Everything else follows from the registry: the feature table's columns and
their order (family-major, registration order), the extractor, the ablation family sets (`all`,
`no_<family>`) of run names and the schema, and the evaluation's reading of feature tables. A family with
its own settings gives a settings dataclass; its keys live under `features.<family>` of the config, and
the schema section is generated from the dataclass (`schema_patch`), so its defaults live only there.

This module imports no torch (the Snakefile imports it to validate the config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mixrep.features import dynamics, masking, spectral, stereo
from mixrep.features.columns import Feature
from mixrep.registry import Registry

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis
    from mixrep.schema import SchemaPatch

#: compute(analysis, settings) -> target -> feature -> value (every declared feature of every target)
Compute = Callable[["Analysis", Any], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class FeatureFamily:
    """One family: its columns, how to compute them, and (optionally) its own settings dataclass.

    features: the family's features in column order; each becomes `<family>.<target>.<feature>` for the
        targets it applies to (`Feature.targets()`).
    compute: what the extractor calls once per stack of stems.
    settings: a frozen dataclass of the family's own settings (config `features.<family>`, built with
        `mixrep.schema.build_settings`; its defaults are the schema's), or None.
    summary: one line for the docs.
    """

    features: tuple[Feature, ...]
    compute: Compute
    settings: type | None = None
    summary: str = ""


def family_module(module: ModuleType) -> FeatureFamily:
    """The family a module defines: its `FEATURES`, `compute`, optional `SETTINGS` (a settings dataclass)
    and the first line of its docstring as the summary."""
    doc = (module.__doc__ or "").strip().splitlines()
    return FeatureFamily(tuple(module.FEATURES), module.compute, getattr(module, "SETTINGS", None),
                         doc[0] if doc else "")


FAMILIES: Registry[FeatureFamily] = Registry("feature family")
FAMILIES.register("dynamics", family_module(dynamics))
FAMILIES.register("spectral", family_module(spectral))
FAMILIES.register("stereo", family_module(stereo))
FAMILIES.register("masking", family_module(masking))

ALL = "all"


def family_sets() -> tuple[str, ...]:
    """The family sets of the ablation grid: `all`, then `no_<family>` in registry order."""
    return (ALL, *(f"no_{name}" for name in FAMILIES))


def family_settings_sections() -> dict[str, type]:
    """`features.<family>` -> settings dataclass, for the families that have settings."""
    return {f"features.{name}": FAMILIES.get(name).settings for name in FAMILIES
            if FAMILIES.get(name).settings is not None}


def schema_patch() -> SchemaPatch:
    """What the families contribute to the config schema: the ablation family sets, and the settings
    sections of the families that have their own settings."""
    from mixrep.schema import SchemaPatch

    return SchemaPatch(enums={"ablation.families": family_sets()}, sections=family_settings_sections())


def markdown_table() -> str:
    """The families as a Markdown table (docs/features.md holds its output): name, columns, module, settings."""
    from mixrep.features.columns import family_columns

    lines = ["| family | columns | module | own settings | what it measures |", "|---|---|---|---|---|"]
    for name in FAMILIES:
        family = FAMILIES.get(name)
        module = family.compute.__module__
        settings = f"`features.{name}` ({family.settings.__name__})" if family.settings else "—"
        summary = family.summary.split(": ", 1)[-1].rstrip(".")
        lines.append(f"| `{name}` | {len(family_columns(name))} | `{module}` | {settings} | {summary} |")
    return "\n".join(lines)
