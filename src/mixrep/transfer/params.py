"""The normalised parameter space of the per-stem effect chain.

CMA-ES works best when every coordinate has the same scale, so the optimiser only sees values in [0, 1];
each coordinate maps to a physical value (dB, Hz, ms, ratio) linearly or logarithmically. The mapping is a
bijection on the closed interval, so `to_physical(to_normalised(p)) == p` up to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mixrep.stems import STEMS


@dataclass(frozen=True)
class ParamSpec:
    """One effect parameter: physical range, mapping, and the value that leaves the audio untouched."""

    name: str
    low: float
    high: float
    neutral: float
    log: bool = False
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"{self.name}: low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scaled parameter needs a positive range")
        if not self.low <= self.neutral <= self.high:
            raise ValueError(f"{self.name}: neutral {self.neutral} outside [{self.low}, {self.high}]")

    def to_physical(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))

    def to_normalised(self, value: float) -> float:
        value = float(value)
        if not self.low - 1e-9 * abs(self.low) <= value <= self.high + 1e-9 * abs(self.high):
            raise ValueError(f"{self.name}={value} outside [{self.low}, {self.high}] {self.unit}")
        value = min(max(value, self.low), self.high)
        if self.log:
            return float((math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low)))
        return float((value - self.low) / (self.high - self.low))


# The chain of one stem, in processing order (chain.py): gain -> 3-band EQ -> compressor -> pan/width -> send.
STEM_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("gain_db", -12.0, 12.0, 0.0, unit="dB"),
    ParamSpec("low_shelf_gain_db", -12.0, 12.0, 0.0, unit="dB"),
    ParamSpec("low_shelf_freq_hz", 60.0, 400.0, 150.0, log=True, unit="Hz"),
    ParamSpec("peak_gain_db", -12.0, 12.0, 0.0, unit="dB"),
    ParamSpec("peak_freq_hz", 250.0, 5000.0, 1000.0, log=True, unit="Hz"),
    ParamSpec("peak_q", 0.3, 4.0, 0.707, log=True),
    ParamSpec("high_shelf_gain_db", -12.0, 12.0, 0.0, unit="dB"),
    ParamSpec("high_shelf_freq_hz", 2000.0, 12000.0, 6000.0, log=True, unit="Hz"),
    ParamSpec("comp_threshold_db", -40.0, 0.0, 0.0, unit="dBFS"),
    ParamSpec("comp_ratio", 1.0, 10.0, 1.0, log=True),
    ParamSpec("comp_attack_ms", 1.0, 100.0, 10.0, log=True, unit="ms"),
    ParamSpec("comp_release_ms", 20.0, 1000.0, 100.0, log=True, unit="ms"),
    ParamSpec("pan", -1.0, 1.0, 0.0),
    ParamSpec("width", 0.0, 2.0, 1.0),
    ParamSpec("reverb_send", 0.0, 0.5, 0.0),
)
PARAM_NAMES: tuple[str, ...] = tuple(spec.name for spec in STEM_PARAMS)


class ParamSpace:
    """The optimised coordinates: `params` of every stem not in `bypass`; the rest sit at their neutral value.

    Args:
        params: names of STEM_PARAMS that the optimiser may move (None = all).
        bypass: stems whose chain is skipped entirely (their audio passes untouched).
    """

    def __init__(self, params: list[str] | tuple[str, ...] | None = None,
                 bypass: list[str] | tuple[str, ...] = ()) -> None:
        names = tuple(PARAM_NAMES if params is None else params)
        unknown = sorted(set(names) - set(PARAM_NAMES))
        if unknown:
            raise ValueError(f"unknown transfer parameters {unknown}; known: {list(PARAM_NAMES)}")
        bad_stems = sorted(set(bypass) - set(STEMS))
        if bad_stems:
            raise ValueError(f"unknown stems to bypass {bad_stems}; stems are {list(STEMS)}")
        self.params = tuple(n for n in PARAM_NAMES if n in names)  # keep chain order
        self.bypass = tuple(s for s in STEMS if s in bypass)
        self.active_stems = tuple(s for s in STEMS if s not in self.bypass)
        self._specs = {spec.name: spec for spec in STEM_PARAMS}
        self.keys: tuple[tuple[str, str], ...] = tuple(
            (stem, name) for stem in self.active_stems for name in self.params)

    @property
    def dim(self) -> int:
        return len(self.keys)

    def spec(self, name: str) -> ParamSpec:
        return self._specs[name]

    def neutral_physical(self) -> dict[str, dict[str, float]]:
        """Every stem at neutral settings (the identity chain)."""
        return {stem: {spec.name: spec.neutral for spec in STEM_PARAMS} for stem in STEMS}

    def neutral_vector(self) -> np.ndarray:
        """The normalised vector of the identity chain: the natural start of the search."""
        return np.array([self._specs[name].to_normalised(self._specs[name].neutral)
                         for _, name in self.keys], dtype=np.float64)

    def to_physical(self, vector: np.ndarray) -> dict[str, dict[str, float]]:
        """Normalised vector (dim,) -> {stem: {param: physical value}} for all stems (neutral where fixed)."""
        vector = np.asarray(vector, dtype=np.float64).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(f"expected a vector of {self.dim} values, got {vector.shape[0]}")
        physical = self.neutral_physical()
        for (stem, name), u in zip(self.keys, vector):
            physical[stem][name] = self._specs[name].to_physical(u)
        return physical

    def to_normalised(self, physical: dict[str, dict[str, float]]) -> np.ndarray:
        """Inverse of `to_physical` on the optimised coordinates."""
        return np.array([self._specs[name].to_normalised(physical[stem][name]) for stem, name in self.keys],
                        dtype=np.float64)

    def describe(self, vector: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
        """JSON-ready record of a solution: normalised and physical values per stem."""
        vector = np.asarray(vector, dtype=np.float64).reshape(-1)
        normalised: dict[str, dict[str, float]] = {stem: {} for stem in self.active_stems}
        for (stem, name), u in zip(self.keys, vector):
            normalised[stem][name] = float(min(max(u, 0.0), 1.0))
        return {"normalised": normalised, "physical": self.to_physical(vector),
                "bypass": {stem: stem in self.bypass for stem in STEMS}}
