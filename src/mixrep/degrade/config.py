"""Settings of the degrade stage: the ranges every fault parameter is drawn from.

The `degrade` section of config.yaml (schema: workflow/schemas/sections/degrade.schema.yaml) is turned into
frozen dataclasses here, once, so that the drawing code reads typed fields instead of nested dicts and an
unknown key fails at the door with its name rather than deep inside a draw.

Ranges are `[low, high]` pairs. For signed parameters (gain, EQ gain, tilt, pan) the range is the
*magnitude* and the sign is drawn separately, so a fault is never drawn as a near no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

#: Every fault the stage knows, in a fixed order (the order fault types are drawn from).
FAULT_TYPES: tuple[str, ...] = (
    "gain", "eq_peak", "eq_low_shelf", "eq_high_shelf", "tilt",
    "compress", "expand", "highpass", "lowpass", "reverb", "pan", "width",
)

Range = tuple[float, float]


def _range(value: Any, name: str) -> Range:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"degrade.{name}: expected a [low, high] pair, got {value!r}") from None
    if low > high:
        raise ValueError(f"degrade.{name}: low {low} > high {high}")
    return low, high


def _build(cls: type, data: Mapping[str, Any] | None, prefix: str) -> Any:
    """A dataclass from a mapping: known keys only, pairs turned into ranges."""
    data = dict(data or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{prefix}: unknown keys {unknown} (known: {sorted(known)})")
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(getattr(defaults, name), tuple):
            kwargs[name] = _range(value, f"{prefix}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


@dataclass(frozen=True)
class EqPeakRanges:
    freq_hz: Range = (100.0, 8000.0)   # centre frequency, drawn log-uniformly
    gain_db: Range = (3.0, 12.0)       # magnitude, random sign
    q: Range = (0.5, 4.0)              # drawn log-uniformly


@dataclass(frozen=True)
class EqShelfRanges:
    low_freq_hz: Range = (80.0, 400.0)       # low-shelf corner, log-uniform
    high_freq_hz: Range = (2000.0, 10000.0)  # high-shelf corner, log-uniform
    gain_db: Range = (3.0, 12.0)             # magnitude, random sign
    q: float = 0.7071                        # shelf slope (Butterworth-like, no overshoot)


@dataclass(frozen=True)
class TiltRanges:
    db_per_octave: Range = (0.5, 3.0)  # magnitude, random sign
    pivot_hz: float = 1000.0           # the tilt is 0 dB here
    low_hz: float = 20.0               # below: held at the tilt's value at low_hz
    high_hz: float = 20000.0           # above: held at the tilt's value at high_hz


@dataclass(frozen=True)
class CompressRanges:
    threshold_rel_db: Range = (-24.0, -6.0)  # relative to the stem's RMS level
    ratio: Range = (2.0, 10.0)
    attack_ms: Range = (1.0, 30.0)
    release_ms: Range = (50.0, 400.0)
    makeup_db: Range = (0.0, 6.0)


@dataclass(frozen=True)
class ExpandRanges:
    threshold_rel_db: Range = (-12.0, 0.0)  # relative to the stem's RMS level
    ratio: Range = (1.5, 4.0)               # downward expansion ratio (dB out per dB in, below threshold)
    attack_ms: Range = (1.0, 10.0)          # how fast the gain opens
    release_ms: Range = (50.0, 300.0)       # how fast the gain closes
    range_db: float = 40.0                  # most attenuation the expander applies


@dataclass(frozen=True)
class BandwidthRanges:
    order: int = 8                           # Butterworth order (slope 6.02 dB/octave per order)
    highpass_hz: Range = (80.0, 800.0)       # log-uniform
    lowpass_hz: Range = (2000.0, 12000.0)    # log-uniform


@dataclass(frozen=True)
class ReverbRanges:
    wet_level: Range = (0.05, 0.5)
    room_size: Range = (0.3, 0.95)
    damping: Range = (0.1, 0.7)


@dataclass(frozen=True)
class WidthRanges:
    narrow: Range = (0.0, 0.7)  # side gain when narrowing (0 = mono)
    wide: Range = (1.4, 2.5)    # side gain when widening


@dataclass(frozen=True)
class SeverityConfig:
    """Just-noticeable differences and measurement settings of the severity scale (see severity.py)."""

    jnd_level_db: float = 1.0      # band level
    jnd_ild_db: float = 1.0        # interaural (inter-channel) level difference per band
    jnd_dynamics_db: float = 1.0   # spread of 50 ms frame levels
    jnd_coherence: float = 0.05    # inter-channel correlation
    band_floor_db: float = -60.0   # bands quieter than the loudest minus this are ignored
    max_band_change_db: float = 20.0  # a band change is counted up to this many dB


@dataclass(frozen=True)
class DegradeConfig:
    """The whole `degrade` config section."""

    variants_per_track: int = 8
    recipe_pool: int = 64  # recipes shared by all tracks (0: one recipe per track x variant; recipes.py)
    min_faults: int = 1
    max_faults: int = 3
    faults: tuple[str, ...] = FAULT_TYPES
    gain_db: Range = (1.0, 9.0)
    pan: Range = (0.1, 0.7)
    eq_peak: EqPeakRanges = field(default_factory=EqPeakRanges)
    eq_shelf: EqShelfRanges = field(default_factory=EqShelfRanges)
    tilt: TiltRanges = field(default_factory=TiltRanges)
    compress: CompressRanges = field(default_factory=CompressRanges)
    expand: ExpandRanges = field(default_factory=ExpandRanges)
    bandwidth: BandwidthRanges = field(default_factory=BandwidthRanges)
    reverb: ReverbRanges = field(default_factory=ReverbRanges)
    width: WidthRanges = field(default_factory=WidthRanges)
    clip_threshold_dbfs: float = -0.1
    headroom_target_dbfs: float = -1.0
    severity: SeverityConfig = field(default_factory=SeverityConfig)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULT_TYPES))
        if unknown:
            raise ValueError(f"degrade.faults: unknown fault types {unknown} (known: {list(FAULT_TYPES)})")
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "DegradeConfig":
        """Build from the config section; missing keys take the defaults above (= the schema's)."""
        data = dict(data or {})
        nested = {"eq_peak": EqPeakRanges, "eq_shelf": EqShelfRanges, "tilt": TiltRanges,
                  "compress": CompressRanges, "expand": ExpandRanges, "bandwidth": BandwidthRanges,
                  "reverb": ReverbRanges, "width": WidthRanges, "severity": SeverityConfig}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"degrade: unknown keys {unknown} (known: {sorted(known)})")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name in nested:
                kwargs[name] = _build(nested[name], value, f"degrade.{name}")
            elif name in ("gain_db", "pan"):
                kwargs[name] = _range(value, name)
            elif name == "faults":
                kwargs[name] = tuple(str(v) for v in value)
            else:
                kwargs[name] = value
        return cls(**kwargs)
