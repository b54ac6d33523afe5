"""`gain`: a stem's level changed by a drawn number of dB (and the headroom gain, which is not a fault)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect, db_to_gain
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.ranges import Range, magnitude_pair, signed


@dataclass(frozen=True)
class Gain(Effect):
    """Stem gain: multiply."""

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
class GainSettings:
    """stem gain"""

    gain_db: Range = magnitude_pair((1.0, 9.0), "stem gain magnitude in dB (sign random)")


def draw_gain(rng: np.random.Generator, settings: GainSettings) -> Gain:
    return Gain(gain_db=signed(rng, settings.gain_db))


GAIN = Fault(Gain, GainSettings, "gain_db", draw_gain, flat=True)
