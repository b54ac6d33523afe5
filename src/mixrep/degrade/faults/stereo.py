"""`pan` (constant-power balance) and `width` (mid/side side gain): the pan law and width of every stage,
`mixrep.signal.stereo`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.ranges import Range, magnitude_pair, pair, signed, uniform
from mixrep.signal import stereo


@dataclass(frozen=True)
class Pan(Effect):
    """Constant-power balance: gains sqrt(2)·(cos θ, sin θ), θ = (position+1)·π/4; unity at the centre."""

    name: ClassVar[str] = "pan"
    family: ClassVar[str] = "stereo"
    position: float = 0.0

    def gains(self) -> tuple[float, float]:
        left, right = stereo.pan_gains(self._clipped())
        return float(left), float(right)

    def _clipped(self) -> float:
        return float(np.clip(self.position, -1.0, 1.0))

    def ild_change_db(self) -> float:
        """How much the right-minus-left level difference moves (dB; +inf at a hard pan)."""
        left, right = self.gains()
        return float(20.0 * np.log10(right / left)) if left > 0 else float("inf")

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return stereo.pan(np.asarray(audio, dtype=np.float32), self._clipped()).astype(np.float32)


@dataclass(frozen=True)
class Width(Effect):
    """Mid/side width: side scaled by `width` (0 = mono, 1 = unchanged, >1 wider; drawn narrow or wide 50/50)."""

    name: ClassVar[str] = "width"
    family: ClassVar[str] = "stereo"
    width: float = 1.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return stereo.width(np.asarray(audio, dtype=np.float32), np.float32(self.width)).astype(np.float32)


@dataclass(frozen=True)
class PanSettings:
    """pan position"""

    position: Range = magnitude_pair((0.1, 0.7), "pan position magnitude (0 centre, 1 hard; sign random = "
                                                 "left/right), constant-power balance")


@dataclass(frozen=True)
class WidthSettings:
    """mid/side width change, narrowing or widening 50/50"""

    narrow: Range = pair((0.0, 0.7), "side gain when narrowing (0 = mono)")
    wide: Range = pair((1.4, 2.5), "side gain when widening")


def draw_pan(rng: np.random.Generator, s: PanSettings) -> Pan:
    return Pan(position=signed(rng, s.position))


def draw_width(rng: np.random.Generator, s: WidthSettings) -> Width:
    bounds = s.wide if rng.random() < 0.5 else s.narrow
    return Width(width=uniform(rng, bounds))


PAN = Fault(Pan, PanSettings, "pan", draw_pan, flat=True)
WIDTH = Fault(Width, WidthSettings, "width", draw_width)
