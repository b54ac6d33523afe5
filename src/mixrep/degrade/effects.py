"""The controlled faults: one small frozen dataclass per fault, holding its parameters and applying itself.

Every effect maps a stereo stem (2, N) float32 to (2, N) float32, is a pure function of its input and its
parameters (no state survives a call: pedalboard plugins are built per call and reset), and is therefore
bit-identical when applied twice. `EFFECTS` maps the name written in a recipe to its class; a recipe entry
`{stem, effect, params}` is rebuilt with `make_effect(effect, params)`.

Faults and what they model (families as in DESIGN.md's feature families):

| name          | family   | parameters                                                     | implementation |
|---------------|----------|----------------------------------------------------------------|----------------|
| gain          | dynamics | gain_db                                                        | multiply |
| eq_peak       | spectral | freq_hz, gain_db, q                                            | pedalboard PeakFilter |
| eq_low_shelf  | spectral | freq_hz, gain_db, q                                            | pedalboard LowShelfFilter |
| eq_high_shelf | spectral | freq_hz, gain_db, q                                            | pedalboard HighShelfFilter |
| tilt          | spectral | db_per_octave, pivot_hz, low_hz, high_hz                       | filters.spectral_tilt |
| compress      | dynamics | threshold_rel_db, threshold_db, ratio, attack_ms, release_ms, makeup_db | pedalboard Compressor + gain |
| expand        | dynamics | threshold_rel_db, threshold_db, ratio, attack_ms, release_ms, range_db | filters.expander_gain_db |
| highpass      | spectral | cutoff_hz, order                                               | scipy Butterworth (sos) |
| lowpass       | spectral | cutoff_hz, order                                               | scipy Butterworth (sos) |
| reverb        | stereo   | wet_level, room_size, damping                                  | pedalboard Reverb (dry at unity) |
| pan           | stereo   | position (-1 left .. +1 right)                                 | constant-power balance |
| width         | stereo   | width (side gain; 0 = mono, 1 = unchanged)                     | mid/side |
| headroom      | (none)   | gain_db (applied to every stem; not a fault)                   | multiply |

Compressor and expander thresholds are drawn relative to the stem's RMS level (`threshold_rel_db`) so that a
fault acts on quiet and loud stems alike; the degrade rule resolves them once to absolute dBFS
(`threshold_db`, written into the recipe) so that a recipe renders the same on any excerpt of the stem.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Mapping

import numpy as np
import pedalboard

from mixrep.degrade.filters import butterworth, expander_gain_db, spectral_tilt

_LEVEL_FLOOR_DB = -100.0


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(audio: np.ndarray) -> float:
    """RMS level of all samples in dBFS, floored at -100 dB (a silent stem has no level)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return max(10.0 * np.log10(power) if power > 0 else _LEVEL_FLOOR_DB, _LEVEL_FLOOR_DB)


def _pedalboard(plugin: pedalboard.Plugin, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    out = plugin(np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate), reset=True)
    return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class Effect(ABC):
    """Base class: `name` is the recipe's `effect` field, `family` the feature family it disturbs."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""

    @abstractmethod
    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The fault applied to (channels, samples) float32 audio; every concrete fault defines it."""

    def params(self) -> dict[str, Any]:
        return {key: (float(v) if isinstance(v, (float, np.floating)) else v) for key, v in asdict(self).items()}


@dataclass(frozen=True)
class Gain(Effect):
    name: ClassVar[str] = "gain"
    family: ClassVar[str] = "dynamics"
    gain_db: float = 0.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return (audio * np.float32(db_to_gain(self.gain_db))).astype(np.float32)


@dataclass(frozen=True)
class Headroom(Gain):
    """The headroom gain the degrade rule adds when a rendered mix would peak above the clip threshold."""

    name: ClassVar[str] = "headroom"
    family: ClassVar[str] = "none"


@dataclass(frozen=True)
class EqPeak(Effect):
    name: ClassVar[str] = "eq_peak"
    family: ClassVar[str] = "spectral"
    freq_hz: float = 1000.0
    gain_db: float = 0.0
    q: float = 0.7071

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        plugin = pedalboard.PeakFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return _pedalboard(plugin, audio, sample_rate)


@dataclass(frozen=True)
class EqLowShelf(EqPeak):
    name: ClassVar[str] = "eq_low_shelf"

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        plugin = pedalboard.LowShelfFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return _pedalboard(plugin, audio, sample_rate)


@dataclass(frozen=True)
class EqHighShelf(EqPeak):
    name: ClassVar[str] = "eq_high_shelf"

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        plugin = pedalboard.HighShelfFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return _pedalboard(plugin, audio, sample_rate)


@dataclass(frozen=True)
class Tilt(Effect):
    name: ClassVar[str] = "tilt"
    family: ClassVar[str] = "spectral"
    db_per_octave: float = 0.0
    pivot_hz: float = 1000.0
    low_hz: float = 20.0
    high_hz: float = 20000.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return spectral_tilt(audio, sample_rate, self.db_per_octave, self.pivot_hz, self.low_hz, self.high_hz)


@dataclass(frozen=True)
class Compress(Effect):
    name: ClassVar[str] = "compress"
    family: ClassVar[str] = "dynamics"
    threshold_rel_db: float = -12.0
    ratio: float = 4.0
    attack_ms: float = 10.0
    release_ms: float = 100.0
    makeup_db: float = 0.0
    threshold_db: float | None = None  # absolute; None = stem RMS + threshold_rel_db of the input

    def absolute_threshold_db(self, audio: np.ndarray) -> float:
        return self.threshold_db if self.threshold_db is not None else rms_db(audio) + self.threshold_rel_db

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        plugin = pedalboard.Compressor(threshold_db=self.absolute_threshold_db(audio), ratio=self.ratio,
                                       attack_ms=self.attack_ms, release_ms=self.release_ms)
        return _pedalboard(plugin, audio, sample_rate) * np.float32(db_to_gain(self.makeup_db))


@dataclass(frozen=True)
class Expand(Effect):
    name: ClassVar[str] = "expand"
    family: ClassVar[str] = "dynamics"
    threshold_rel_db: float = -6.0
    ratio: float = 2.0
    attack_ms: float = 5.0
    release_ms: float = 100.0
    range_db: float = 40.0
    threshold_db: float | None = None

    def absolute_threshold_db(self, audio: np.ndarray) -> float:
        return self.threshold_db if self.threshold_db is not None else rms_db(audio) + self.threshold_rel_db

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        gain_db = expander_gain_db(audio, sample_rate, self.absolute_threshold_db(audio), self.ratio,
                                   self.attack_ms, self.release_ms, self.range_db)
        return (audio * np.power(np.float32(10.0), gain_db / np.float32(20.0))).astype(np.float32)


@dataclass(frozen=True)
class Highpass(Effect):
    name: ClassVar[str] = "highpass"
    family: ClassVar[str] = "spectral"
    cutoff_hz: float = 100.0
    order: int = 8

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return butterworth(audio, sample_rate, self.cutoff_hz, self.order, "highpass")


@dataclass(frozen=True)
class Lowpass(Highpass):
    name: ClassVar[str] = "lowpass"
    cutoff_hz: float = 8000.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return butterworth(audio, sample_rate, self.cutoff_hz, self.order, "lowpass")


@dataclass(frozen=True)
class Reverb(Effect):
    """pedalboard (JUCE/Freeverb) stereo reverb, dry path at unity (dry_level 0.5 = gain 1 in JUCE).

    Deterministic: the plugin is built per call and reset, so the same input gives bit-identical output.
    The tail beyond the stem's end is cut (the variant keeps the track's length).
    """

    name: ClassVar[str] = "reverb"
    family: ClassVar[str] = "stereo"
    wet_level: float = 0.2
    room_size: float = 0.5
    damping: float = 0.5

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        plugin = pedalboard.Reverb(room_size=self.room_size, damping=self.damping, wet_level=self.wet_level,
                                   dry_level=0.5, width=1.0)
        return _pedalboard(plugin, audio, sample_rate)


@dataclass(frozen=True)
class Pan(Effect):
    """Constant-power balance: gains sqrt(2)·(cos θ, sin θ), θ = (position+1)·π/4; unity at the centre."""

    name: ClassVar[str] = "pan"
    family: ClassVar[str] = "stereo"
    position: float = 0.0

    def gains(self) -> tuple[float, float]:
        theta = (float(np.clip(self.position, -1.0, 1.0)) + 1.0) * np.pi / 4.0
        return float(np.sqrt(2.0) * np.cos(theta)), float(np.sqrt(2.0) * np.sin(theta))

    def ild_change_db(self) -> float:
        """How much the right-minus-left level difference moves (dB; +inf at a hard pan)."""
        left, right = self.gains()
        return float(20.0 * np.log10(right / left)) if left > 0 else float("inf")

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        left, right = self.gains()
        return (audio * np.array([[left], [right]], dtype=np.float32)).astype(np.float32)


@dataclass(frozen=True)
class Width(Effect):
    """Mid/side width: side scaled by `width` (0 = mono, 1 = unchanged, >1 wider), mid untouched."""

    name: ClassVar[str] = "width"
    family: ClassVar[str] = "stereo"
    width: float = 1.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        mid = 0.5 * (audio[0] + audio[1])
        side = 0.5 * (audio[0] - audio[1]) * np.float32(self.width)
        return np.stack([mid + side, mid - side]).astype(np.float32)


EFFECTS: dict[str, type[Effect]] = {cls.name: cls for cls in (
    Gain, EqPeak, EqLowShelf, EqHighShelf, Tilt, Compress, Expand, Highpass, Lowpass, Reverb, Pan, Width,
    Headroom)}


def make_effect(name: str, params: Mapping[str, Any]) -> Effect:
    """Rebuild an effect from a recipe entry; unknown names or parameters raise ValueError naming them."""
    if name not in EFFECTS:
        raise ValueError(f"unknown effect {name!r} (known: {sorted(EFFECTS)})")
    cls = EFFECTS[name]
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"effect {name!r}: unknown parameters {unknown} (known: {sorted(allowed)})")
    return cls(**dict(params))
