"""Settings of the degrade stage: how many variants, which faults, and the ranges they are drawn from.

The `degrade` section of config.yaml (schema: workflow/schemas/sections/degrade.schema.yaml, plus the fault
sections that `mixrep.degrade.faults.schema_patch` inserts) is turned into frozen dataclasses here, once, so
that the drawing code reads typed fields instead of nested dicts and an unknown key fails at the door with
its name rather than deep inside a draw. The fault sections (`eq_peak`, `eq_shelf`, `tilt`, ...) are not
spelled out here: they are built from the fault registry, each into its fault's settings dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import numpy as np

from mixrep.degrade.effects import Effect
from mixrep.degrade.faults import FAULTS, fault_sections
from mixrep.degrade.ranges import check_ranges
from mixrep.schema import build_settings

_FAULT_SETTINGS = "fault_settings"


def default_fault_settings() -> dict[str, Any]:
    """Every fault section at its defaults: config key -> settings instance."""
    return {key: fault.settings() for key, fault in fault_sections().items()}


@dataclass(frozen=True)
class SeveritySettings:
    """Just-noticeable differences and measurement settings of the severity scale (see severity.py)."""

    jnd_level_db: float = 1.0      # band level
    jnd_ild_db: float = 1.0        # interaural (inter-channel) level difference per band
    jnd_dynamics_db: float = 1.0   # spread of 50 ms frame levels
    jnd_coherence: float = 0.05    # inter-channel correlation
    band_floor_db: float = -60.0   # bands quieter than the loudest minus this are ignored
    max_band_change_db: float = 20.0  # a band change is counted up to this many dB


@dataclass(frozen=True)
class DegradeSettings:
    """The whole `degrade` config section; `fault_settings` maps each fault section's key to its settings."""

    variants_per_track: int = 8
    recipe_pool: int = 64  # recipes shared by all tracks (0: one recipe per track x variant; recipes.py)
    min_faults: int = 1
    max_faults: int = 3
    faults: tuple[str, ...] = field(default_factory=FAULTS.names)  # every registered fault
    clip_threshold_dbfs: float = -0.1
    headroom_target_dbfs: float = -1.0
    severity: SeveritySettings = field(default_factory=SeveritySettings)
    fault_settings: Mapping[str, Any] = field(default_factory=default_fault_settings)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULTS.names()))
        if unknown:
            raise ValueError(f"degrade.faults: unknown fault types {unknown} (known: {list(FAULTS.names())})")
        if not self.faults:
            raise ValueError("degrade.faults: at least one fault type is needed")
        if not 1 <= self.min_faults <= self.max_faults:
            raise ValueError(f"degrade: need 1 <= min_faults <= max_faults, got {self.min_faults}, {self.max_faults}")
        if self.min_faults > len(self.faults):
            raise ValueError(f"degrade.min_faults={self.min_faults} exceeds the {len(self.faults)} enabled faults "
                             "(fault types are drawn without replacement)")
        if self.variants_per_track < 0:
            raise ValueError("degrade.variants_per_track must be >= 0")
        if self.recipe_pool < 0:
            raise ValueError("degrade.recipe_pool must be >= 0 (0 = no pool)")
        if 0 < self.recipe_pool < self.variants_per_track:
            raise ValueError(f"degrade.recipe_pool={self.recipe_pool} is smaller than variants_per_track="
                             f"{self.variants_per_track}: a track's variants need distinct recipes")
        if self.headroom_target_dbfs > self.clip_threshold_dbfs:
            raise ValueError("degrade.headroom_target_dbfs must not exceed clip_threshold_dbfs")
        for key, fault in fault_sections().items():
            if not isinstance(self.fault_settings.get(key), fault.settings):
                raise ValueError(f"degrade.{key}: expected {fault.settings.__name__} settings, "
                                 f"got {self.fault_settings.get(key)!r}")

    def settings_of(self, fault: str) -> Any:
        """The settings fault `fault` is drawn from."""
        return self.fault_settings[FAULTS.get(fault).key]

    def draw(self, fault: str, rng: np.random.Generator) -> Effect:
        """One effect of fault `fault`, its parameters drawn from `rng` and this config's ranges."""
        return FAULTS.get(fault).draw(rng, self.settings_of(fault))

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> DegradeSettings:
        """Build from the `degrade` config section; missing keys take the defaults of the dataclasses."""
        data = dict(section or {})
        sections = fault_sections()
        core = {f.name for f in fields(cls)} - {_FAULT_SETTINGS}
        unknown = sorted(set(data) - core - set(sections))
        if unknown:
            raise ValueError(f"degrade: unknown keys {unknown} (known: {sorted(core | set(sections))})")
        built: dict[str, Any] = {}
        for key, fault in sections.items():
            where = f"degrade.{key}"
            if not fault.flat:
                built[key] = build_settings(fault.settings, data.pop(key, None), where)
            elif key in data:
                built[key] = fault.settings(_pair(data.pop(key), where))
            else:
                built[key] = fault.settings()
            check_ranges(built[key], where, flat=fault.flat)
        return build_settings(cls, {**data, _FAULT_SETTINGS: built}, "degrade")


def _pair(value: Any, where: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a [low, high] pair, got {value!r}") from None
    return low, high
