"""What every fault's effect is: a small frozen dataclass holding its parameters and applying itself.

Every effect maps a stereo stem (2, N) float32 to (2, N) float32, is a pure function of its input and its
parameters (no state survives a call: pedalboard plugins are built per call and reset), and is therefore
bit-identical when applied twice. The faults themselves (one module each, or a few related ones together)
live in `mixrep.degrade.faults`, whose registry `FAULTS` lists them; `mixrep.degrade.faults.make_effect`
rebuilds an effect from a recipe entry `{stem, effect, params}`. The faults and their parameters are
tabled in docs/degrade.md ("Faults"; tests/test_degrade_faults.py checks the table against the registry).

An effect with a parameter drawn relative to the audio (the compressor/expander `threshold_rel_db`)
overrides `resolved`: the degrade rule resolves it once against the stem as it enters the effect and
writes the absolute value into the recipe, so that a recipe renders the same on any excerpt of the stem.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

_LEVEL_FLOOR_DB = -100.0


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(audio: np.ndarray) -> float:
    """RMS level of all samples in dBFS, floored at -100 dB (a silent stem has no level)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return max(10.0 * np.log10(power) if power > 0 else _LEVEL_FLOOR_DB, _LEVEL_FLOOR_DB)


def run_plugin(plugin: Any, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A pedalboard plugin on (channels, samples) audio, reset first; float32 out."""
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

    def resolved(self, audio: np.ndarray) -> "Effect":
        """This effect with its audio-relative parameters fixed against `audio` (the stem entering it)."""
        return self

    def params(self) -> dict[str, Any]:
        return {key: (float(v) if isinstance(v, (float, np.floating)) else v) for key, v in asdict(self).items()}
