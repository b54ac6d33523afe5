"""`compress` (pedalboard Compressor + make-up gain) and `expand` (a vectorised downward expander).

Thresholds are drawn relative to the stem's RMS level (`threshold_rel_db`) so that a fault acts on quiet and
loud stems alike; `resolved` fixes them once to absolute dBFS (`threshold_db`, written into the recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect, db_to_gain, rms_db, run_plugin
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.filters import expander_gain_db
from mixrep.degrade.ranges import Range, log_uniform, pair, positive_pair, uniform, value


class RelativeThreshold:
    """Mixin of an effect with fields `threshold_rel_db` (re the stem's RMS level) and `threshold_db` (absolute)."""

    def absolute_threshold_db(self, audio: np.ndarray) -> float:
        absolute = self.threshold_db  # type: ignore[attr-defined]
        return absolute if absolute is not None else rms_db(audio) + self.threshold_rel_db  # type: ignore[attr-defined]

    def resolved(self, audio: np.ndarray) -> Effect:
        if self.threshold_db is not None:  # type: ignore[attr-defined]
            return self  # type: ignore[return-value]
        return replace(self, threshold_db=round(self.absolute_threshold_db(audio), 3))  # type: ignore[type-var]


@dataclass(frozen=True)
class Compress(RelativeThreshold, Effect):
    """Downward compression: pedalboard `Compressor` + make-up gain; `threshold_db` resolved per stem."""

    name: ClassVar[str] = "compress"
    family: ClassVar[str] = "dynamics"
    threshold_rel_db: float = -12.0
    ratio: float = 4.0
    attack_ms: float = 10.0
    release_ms: float = 100.0
    makeup_db: float = 0.0
    threshold_db: float | None = None  # absolute; None = stem RMS + threshold_rel_db of the input

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        plugin = pedalboard.Compressor(threshold_db=self.absolute_threshold_db(audio), ratio=self.ratio,
                                       attack_ms=self.attack_ms, release_ms=self.release_ms)
        return run_plugin(plugin, audio, sample_rate) * np.float32(db_to_gain(self.makeup_db))


@dataclass(frozen=True)
class Expand(RelativeThreshold, Effect):
    """Downward expansion: vectorised stereo-linked expander (below); `threshold_db` resolved per stem."""

    name: ClassVar[str] = "expand"
    family: ClassVar[str] = "dynamics"
    threshold_rel_db: float = -6.0
    ratio: float = 2.0
    attack_ms: float = 5.0
    release_ms: float = 100.0
    range_db: float = 40.0
    threshold_db: float | None = None

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        gain_db = expander_gain_db(audio, sample_rate, self.absolute_threshold_db(audio), self.ratio,
                                   self.attack_ms, self.release_ms, self.range_db)
        return (audio * np.power(np.float32(10.0), gain_db / np.float32(20.0))).astype(np.float32)


@dataclass(frozen=True)
class CompressSettings:
    """downward compression (pedalboard Compressor) plus make-up gain"""

    threshold_rel_db: Range = pair((-24.0, -6.0), "threshold relative to the stem's RMS level (dB)")
    ratio: Range = positive_pair((2.0, 10.0), "compression ratio")
    attack_ms: Range = positive_pair((1.0, 30.0), "attack time (log-uniform)")
    release_ms: Range = positive_pair((50.0, 400.0), "release time (log-uniform)")
    makeup_db: Range = pair((0.0, 6.0), "make-up gain (dB)")


@dataclass(frozen=True)
class ExpandSettings:
    """downward expansion (vectorised, stereo-linked; mixrep.degrade.filters.expander_gain_db)"""

    threshold_rel_db: Range = pair((-12.0, 0.0), "threshold relative to the stem's RMS level (dB)")
    ratio: Range = positive_pair((1.5, 4.0), "expansion ratio below the threshold (dB out per dB in)")
    attack_ms: Range = positive_pair((1.0, 10.0), "gain opening time (log-uniform)")
    release_ms: Range = positive_pair((50.0, 300.0), "gain closing time (log-uniform)")
    range_db: float = value(40.0, "most attenuation applied (dB)")

    def __post_init__(self) -> None:
        if self.range_db <= 0:
            raise ValueError(f"degrade.expand.range_db: must be > 0, got {self.range_db}")


def draw_compress(rng: np.random.Generator, s: CompressSettings) -> Compress:
    return Compress(threshold_rel_db=uniform(rng, s.threshold_rel_db), ratio=uniform(rng, s.ratio),
                    attack_ms=log_uniform(rng, s.attack_ms), release_ms=log_uniform(rng, s.release_ms),
                    makeup_db=uniform(rng, s.makeup_db))


def draw_expand(rng: np.random.Generator, s: ExpandSettings) -> Expand:
    return Expand(threshold_rel_db=uniform(rng, s.threshold_rel_db), ratio=uniform(rng, s.ratio),
                  attack_ms=log_uniform(rng, s.attack_ms), release_ms=log_uniform(rng, s.release_ms),
                  range_db=s.range_db)


COMPRESS = Fault(Compress, CompressSettings, "compress", draw_compress)
EXPAND = Fault(Expand, ExpandSettings, "expand", draw_expand)
