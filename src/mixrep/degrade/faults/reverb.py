"""`reverb`: pedalboard (JUCE/Freeverb) stereo reverb, dry path at unity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect, run_plugin
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.ranges import Range, pair, uniform


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
        import pedalboard

        plugin = pedalboard.Reverb(room_size=self.room_size, damping=self.damping, wet_level=self.wet_level,
                                   dry_level=0.5, width=1.0)
        return run_plugin(plugin, audio, sample_rate)


@dataclass(frozen=True)
class ReverbSettings:
    """stereo reverb (pedalboard Reverb, dry path at unity)"""

    wet_level: Range = pair((0.05, 0.5), "wet level (0..1)")
    room_size: Range = pair((0.3, 0.95), "room size (0..1, longer decay when larger)")
    damping: Range = pair((0.1, 0.7), "high-frequency damping of the tail (0..1)")


def draw_reverb(rng: np.random.Generator, s: ReverbSettings) -> Reverb:
    return Reverb(wet_level=uniform(rng, s.wet_level), room_size=uniform(rng, s.room_size),
                  damping=uniform(rng, s.damping))


REVERB = Fault(Reverb, ReverbSettings, "reverb", draw_reverb)
