"""`tilt`: a spectral tilt, linear in dB per octave around a pivot (frequency-domain, zero phase)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.filters import spectral_tilt
from mixrep.degrade.ranges import Range, magnitude_pair, signed, value


@dataclass(frozen=True)
class Tilt(Effect):
    """Spectral tilt, flat outside `low_hz`..`high_hz`: 8191-tap linear-phase FIR, delay removed (zero phase)."""

    name: ClassVar[str] = "tilt"
    family: ClassVar[str] = "spectral"
    db_per_octave: float = 0.0
    pivot_hz: float = 1000.0
    low_hz: float = 20.0
    high_hz: float = 20000.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return spectral_tilt(audio, sample_rate, self.db_per_octave, self.pivot_hz, self.low_hz, self.high_hz)


@dataclass(frozen=True)
class TiltSettings:
    """spectral tilt, linear in dB per octave around the pivot (frequency-domain, zero phase)"""

    db_per_octave: Range = magnitude_pair((0.5, 3.0), "slope magnitude (sign random)")
    pivot_hz: float = value(1000.0, "frequency left at 0 dB")
    low_hz: float = value(20.0, "response held flat below")
    high_hz: float = value(20000.0, "response held flat above")

    def __post_init__(self) -> None:
        if min(self.pivot_hz, self.low_hz, self.high_hz) <= 0:
            raise ValueError("degrade.tilt: pivot_hz, low_hz and high_hz must be > 0")


def draw_tilt(rng: np.random.Generator, s: TiltSettings) -> Tilt:
    return Tilt(db_per_octave=signed(rng, s.db_per_octave), pivot_hz=s.pivot_hz, low_hz=s.low_hz, high_hz=s.high_hz)


TILT = Fault(Tilt, TiltSettings, "tilt", draw_tilt)
