"""`highpass` and `lowpass`: band limiting with steep Butterworth filters (scipy, second-order sections)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mixrep.degrade.effects import Effect
from mixrep.degrade.faults.base import Fault
from mixrep.degrade.filters import butterworth
from mixrep.degrade.ranges import Range, log_uniform, positive_pair, value


@dataclass(frozen=True)
class Highpass(Effect):
    """High-pass: order-`order` Butterworth, scipy `butter(..., output="sos")` + `sosfilt`."""

    name: ClassVar[str] = "highpass"
    family: ClassVar[str] = "spectral"
    cutoff_hz: float = 100.0
    order: int = 8

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return butterworth(audio, sample_rate, self.cutoff_hz, self.order, "highpass")


@dataclass(frozen=True)
class Lowpass(Highpass):
    """Low-pass: order-`order` Butterworth, scipy `butter(..., output="sos")` + `sosfilt`."""

    name: ClassVar[str] = "lowpass"
    cutoff_hz: float = 8000.0

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return butterworth(audio, sample_rate, self.cutoff_hz, self.order, "lowpass")


@dataclass(frozen=True)
class BandwidthSettings:
    """band limiting with Butterworth filters (scipy butter, second-order sections)"""

    order: int = value(8, "filter order, 1..16 (6.02 dB/octave per order)")
    highpass_hz: Range = positive_pair((80.0, 800.0), "high-pass cut-off (log-uniform)")
    lowpass_hz: Range = positive_pair((2000.0, 12000.0), "low-pass cut-off (log-uniform)")

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int) or not 1 <= self.order <= 16:
            raise ValueError(f"degrade.bandwidth.order: must be an integer in 1..16, got {self.order!r}")


def draw_highpass(rng: np.random.Generator, s: BandwidthSettings) -> Highpass:
    return Highpass(cutoff_hz=log_uniform(rng, s.highpass_hz), order=s.order)


def draw_lowpass(rng: np.random.Generator, s: BandwidthSettings) -> Lowpass:
    return Lowpass(cutoff_hz=log_uniform(rng, s.lowpass_hz), order=s.order)


HIGHPASS = Fault(Highpass, BandwidthSettings, "bandwidth", draw_highpass)
LOWPASS = Fault(Lowpass, BandwidthSettings, "bandwidth", draw_lowpass)
