"""Severity: how audible a variant's change is, in just-noticeable differences (JND), measured on the audio.

Each fault is measured where it is heard, on the *mix*: the mix before the fault (the reference mix with the
earlier faults of the chain applied) is compared with the mix after it, so a stem's share of the mix is
accounted for without a model of masking. Four cues, each divided by its JND:

    spectral  = sqrt(mean_b ΔL_b²) / jnd_level_db         ΔL_b: level change (dB) of 1/3-octave band b (L+R power)
    stereo    = sqrt(mean_b ΔILD_b²) / jnd_ild_db         ΔILD_b: change of 10·log10(P_R/P_L) in band b
    dynamics  = |Δ std_t(frame level dB)| / jnd_dynamics_db   frame = 50 ms, frames within 60 dB of the loudest
    spatial   = |Δ ρ| / jnd_coherence                     ρ: zero-lag correlation of L and R

Bands run from 25 Hz to 16 kHz (28 third-octave bands); bands more than `band_floor_db` below the loudest
band of the mix before the fault are ignored (a change nobody hears), and a band's change counts at most
`max_band_change_db`. The cues are combined as independent detectors in signal-detection theory
(d' adds in quadrature):

    severity(fault)   = sqrt(spectral² + stereo² + dynamics² + spatial²)
    severity(variant) = Σ over its faults severity(fault)          (variant 0: 0)

So a +1 dB gain on the whole mix scores 1.0, a +6 dB gain on a stem that is half the mix's power scores about
4.0 (10·log10(0.5 + 0.5·10^0.6) = 4.0 dB in every band), a narrow EQ boost scores less than a broadband one of
the same gain, and a reverb scores by the energy it adds and the inter-channel coherence it removes. The
headroom gain is not a fault and is not scored. Defaults of the JNDs: level 1 dB (intensity JND of broadband
sounds), ILD 1 dB, dynamics 1 dB, coherence 0.05 (near-coherent references); all in `degrade.severity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import welch

from mixrep.degrade.config import SeveritySettings
from mixrep.degrade.recipes import EffectSpec

_EPS = 1e-20
_BAND_CENTRES_HZ = 1000.0 * 2.0 ** (np.arange(-16, 13) / 3.0)  # 25 Hz .. 16 kHz
_NPERSEG = 4096
_FRAME_S = 0.05


@dataclass(frozen=True)
class MixProfile:
    """What severity compares: band powers per channel, frame-level spread and L/R correlation of a mix."""

    band_power: np.ndarray  # (2, bands)
    level_spread_db: float
    correlation: float


@dataclass(frozen=True)
class FaultSeverity:
    """The four JND-scaled cues of one fault and their combination."""

    effect: str
    stem: str
    spectral: float
    stereo: float
    dynamics: float
    spatial: float

    @property
    def total(self) -> float:
        return float(np.sqrt(self.spectral ** 2 + self.stereo ** 2 + self.dynamics ** 2 + self.spatial ** 2))


def _band_edges(sample_rate: int) -> np.ndarray:
    edges = np.concatenate([_BAND_CENTRES_HZ * 2 ** (-1 / 6), _BAND_CENTRES_HZ[-1:] * 2 ** (1 / 6)])
    return edges[edges < sample_rate / 2]


def profile(mix: np.ndarray, sample_rate: int) -> MixProfile:
    """Measure a (2, N) mix."""
    mix = np.asarray(mix, dtype=np.float64)
    nperseg = min(_NPERSEG, mix.shape[-1])
    freqs, psd = welch(mix, fs=sample_rate, nperseg=nperseg, axis=-1)
    edges = _band_edges(sample_rate)
    band = np.searchsorted(edges, freqs, side="right") - 1  # bin -> band index, -1 / len(edges)-1 outside
    bands = len(edges) - 1
    inside = (band >= 0) & (band < bands)
    power = np.zeros((2, bands))
    for channel in range(2):
        power[channel] = np.bincount(band[inside], weights=psd[channel][inside], minlength=bands)
    frame = max(1, int(_FRAME_S * sample_rate))
    frames = mix.shape[-1] // frame
    if frames >= 2:
        energy = np.mean(mix[:, :frames * frame].reshape(2, frames, frame) ** 2, axis=(0, 2))
        level = 10 * np.log10(energy + _EPS)
        active = level > level.max() - 60.0
        spread = float(np.std(level[active]))
    else:
        spread = 0.0
    left, right = mix
    denom = np.sqrt(np.dot(left, left) * np.dot(right, right))
    correlation = float(np.dot(left, right) / denom) if denom > 0 else 1.0
    return MixProfile(power, spread, correlation)


def compare(before: MixProfile, after: MixProfile, config: SeveritySettings,
            effect: str = "", stem: str = "") -> FaultSeverity:
    """The JND-scaled difference between two mix profiles (see the module docstring)."""
    total_before = before.band_power.sum(axis=0)
    total_after = after.band_power.sum(axis=0)
    reference_db = 10 * np.log10(total_before + _EPS)
    active = reference_db > reference_db.max() + config.band_floor_db
    if not np.any(active):
        return FaultSeverity(effect, stem, 0.0, 0.0, 0.0, 0.0)
    cap = config.max_band_change_db
    level = np.clip(10 * np.log10((total_after + _EPS) / (total_before + _EPS)), -cap, cap)[active]
    ild_before = 10 * np.log10((before.band_power[1] + _EPS) / (before.band_power[0] + _EPS))
    ild_after = 10 * np.log10((after.band_power[1] + _EPS) / (after.band_power[0] + _EPS))
    ild = np.clip(ild_after - ild_before, -cap, cap)[active]
    return FaultSeverity(
        effect=effect, stem=stem,
        spectral=float(np.sqrt(np.mean(level ** 2)) / config.jnd_level_db),
        stereo=float(np.sqrt(np.mean(ild ** 2)) / config.jnd_ild_db),
        dynamics=abs(after.level_spread_db - before.level_spread_db) / config.jnd_dynamics_db,
        spatial=abs(after.correlation - before.correlation) / config.jnd_coherence,
    )


@dataclass
class SeverityMeter:
    """Observer for `render.render_chain`: keeps the running mix and scores every fault as it is applied."""

    reference_mix: np.ndarray
    sample_rate: int
    config: SeveritySettings = field(default_factory=SeveritySettings)
    faults: list[FaultSeverity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._mix = np.asarray(self.reference_mix, dtype=np.float64).copy()
        self._profile = profile(self._mix, self.sample_rate)

    def __call__(self, spec: EffectSpec, stem_index: int, before: np.ndarray, after: np.ndarray) -> None:
        self._mix += np.asarray(after, dtype=np.float64) - before
        new_profile = profile(self._mix, self.sample_rate)
        self.faults.append(compare(self._profile, new_profile, self.config, spec.effect.name, spec.stem))
        self._profile = new_profile

    @property
    def total(self) -> float:
        """The variant's severity: the sum over its faults (0 for no fault)."""
        return float(sum(fault.total for fault in self.faults))
