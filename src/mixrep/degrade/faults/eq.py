"""Equalisers: `eq_peak` (a peaking filter), `eq_low_shelf` and `eq_high_shelf` (shelving filters; pedalboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect, run_plugin
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.ranges import Range, log_uniform, magnitude_pair, positive_pair, signed, value


@dataclass(frozen=True)
class EqPeak(Effect):
    """Peaking EQ: pedalboard `PeakFilter` (gain at `freq_hz` exact to 0.001 dB)."""

    name: ClassVar[str] = "eq_peak"
    family: ClassVar[str] = "spectral"
    freq_hz: float = 1000.0
    gain_db: float = 0.0
    q: float = 0.7071

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        plugin = pedalboard.PeakFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return run_plugin(plugin, audio, sample_rate)


@dataclass(frozen=True)
class EqLowShelf(EqPeak):
    """Low-shelf EQ: pedalboard `LowShelfFilter`."""

    name: ClassVar[str] = "eq_low_shelf"

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        plugin = pedalboard.LowShelfFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return run_plugin(plugin, audio, sample_rate)


@dataclass(frozen=True)
class EqHighShelf(EqPeak):
    """High-shelf EQ: pedalboard `HighShelfFilter`."""

    name: ClassVar[str] = "eq_high_shelf"

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        plugin = pedalboard.HighShelfFilter(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)
        return run_plugin(plugin, audio, sample_rate)


@dataclass(frozen=True)
class EqPeakSettings:
    """peaking EQ (pedalboard PeakFilter)"""

    freq_hz: Range = positive_pair((100.0, 8000.0), "centre frequency (log-uniform)")
    gain_db: Range = magnitude_pair((3.0, 12.0), "gain magnitude at the centre (sign random)")
    q: Range = positive_pair((0.5, 4.0), "quality factor (log-uniform)")


@dataclass(frozen=True)
class EqShelfSettings:
    """low / high shelving EQ (pedalboard LowShelfFilter / HighShelfFilter)"""

    low_freq_hz: Range = positive_pair((80.0, 400.0), "low-shelf corner (log-uniform)")
    high_freq_hz: Range = positive_pair((2000.0, 10000.0), "high-shelf corner (log-uniform)")
    gain_db: Range = magnitude_pair((3.0, 12.0), "shelf gain magnitude (sign random)")
    q: float = value(0.7071, "shelf slope parameter (Butterworth-like, no overshoot)")

    def __post_init__(self) -> None:
        if self.q <= 0:
            raise ValueError(f"degrade.eq_shelf.q: must be > 0, got {self.q}")


def draw_eq_peak(rng: np.random.Generator, s: EqPeakSettings) -> EqPeak:
    return EqPeak(freq_hz=log_uniform(rng, s.freq_hz), gain_db=signed(rng, s.gain_db), q=log_uniform(rng, s.q))


def draw_low_shelf(rng: np.random.Generator, s: EqShelfSettings) -> EqLowShelf:
    return EqLowShelf(freq_hz=log_uniform(rng, s.low_freq_hz), gain_db=signed(rng, s.gain_db), q=s.q)


def draw_high_shelf(rng: np.random.Generator, s: EqShelfSettings) -> EqHighShelf:
    return EqHighShelf(freq_hz=log_uniform(rng, s.high_freq_hz), gain_db=signed(rng, s.gain_db), q=s.q)


EQ_PEAK = Fault(EqPeak, EqPeakSettings, "eq_peak", draw_eq_peak)
EQ_LOW_SHELF = Fault(EqLowShelf, EqShelfSettings, "eq_shelf", draw_low_shelf)
EQ_HIGH_SHELF = Fault(EqHighShelf, EqShelfSettings, "eq_shelf", draw_high_shelf)
