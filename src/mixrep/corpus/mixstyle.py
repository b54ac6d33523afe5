"""Mixing of one synthetic track: draw a mix from the genre's prior, process each stem, master the sum.

The stems written to disk are the processed stems *as they sit in the mix*: every gain, EQ, compressor,
reverb, pan/width, master tilt, master gain and limiter gain is applied to each stem, and the mixture is
their sum. The two non-linear master steps keep that exact: the loudness gain is one scalar for every stem,
and the limiter's gain envelope is computed once on the mixture and multiplied into every stem.

Per-stem chain (pedalboard for the filters and dynamics, `mixrep.signal.stereo` for the stereo image):
level to -20 dBFS RMS -> low shelf 120 Hz / presence peak 3 kHz / high shelf 8 kHz -> compressor -> level
back to -20 dBFS RMS (make-up, so `gain_db` is the stem's balance) -> reverb -> mid/side width and
constant-power pan -> balance gain -> master tilt (linear, so it equals a master-bus EQ).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
from pedalboard import Compressor, Gain, HighShelfFilter, LowShelfFilter, Pedalboard, PeakFilter, Reverb
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from mixrep.corpus.genres import MixPrior
from mixrep.signal import stereo
from mixrep.signal.loudness import integrated_lufs
from mixrep.stems import STEMS

REFERENCE_RMS_DB = -20.0   # every stem is levelled here before its balance gain
SILENCE_RMS = 1e-7         # below this a stem is treated as silent (e.g. no vocals) and left at zero
LIMITER_ATTACK_S = 0.005
LIMITER_RELEASE_S = 0.08
MASTER_ITERATIONS = 4


@dataclass(frozen=True)
class StemMix:
    """One stem's drawn processing.

    gain_db: balance relative to the other stems (dB, after levelling); low_shelf_db / presence_db /
    high_shelf_db: EQ gains (dB) at 120 Hz / 3 kHz / 8 kHz; comp_threshold_db (dBFS, on the levelled stem)
    and comp_ratio; reverb_wet: reverb wet level 0..1; width: side gain (0 mono, 1 as rendered, >1 wider);
    pan: -1 left .. +1 right (constant power).
    """

    gain_db: float
    low_shelf_db: float
    presence_db: float
    high_shelf_db: float
    comp_threshold_db: float
    comp_ratio: float
    reverb_wet: float
    width: float
    pan: float


@dataclass(frozen=True)
class MixStyle:
    """A whole track's drawn mix: the stems' chains plus the master bus."""

    stems: dict[str, StemMix]
    target_lufs: float   # integrated loudness the master gain aims at (LUFS, K-weighting)
    tilt_db: float       # master tilt: +t/2 dB above 3 kHz, -t/2 dB below 300 Hz
    room_size: float     # reverb room size shared by the stems (0..1)

    def flat(self) -> dict[str, float]:
        """Columns for the metadata table: `mix.<stem>.<param>` and `mix.master.<param>`."""
        out = {f"mix.{stem}.{k}": float(v) for stem in STEMS for k, v in asdict(self.stems[stem]).items()}
        out.update({"mix.master.target_lufs": self.target_lufs, "mix.master.tilt_db": self.tilt_db,
                    "mix.master.room_size": self.room_size})
        return out


def draw_mix(prior: MixPrior, rng: np.random.Generator, spread: float = 1.0) -> MixStyle:
    """One track's mix drawn around its genre's prior (`spread` scales every standard deviation)."""
    stems = {}
    for stem in STEMS:
        sp = prior.stems[stem]
        stems[stem] = StemMix(**{f.name: getattr(sp, f.name).draw(rng, spread) for f in fields(StemMix)})
    return MixStyle(stems=stems, target_lufs=prior.target_lufs.draw(rng, spread),
                    tilt_db=prior.tilt_db.draw(rng, spread), room_size=prior.room_size.draw(rng, spread))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _level(x: np.ndarray, target_db: float = REFERENCE_RMS_DB) -> np.ndarray:
    rms = _rms(x)
    if rms < SILENCE_RMS:
        return np.zeros_like(x)
    return (x * np.float32(10 ** (target_db / 20) / rms)).astype(np.float32)


def process_stem(audio: np.ndarray, mix: StemMix, room_size: float, tilt_db: float, sample_rate: int) -> np.ndarray:
    """One dry stem (2, N) through its chain; a silent stem stays exactly zero."""
    x = _level(np.ascontiguousarray(audio, dtype=np.float32))
    if not np.any(x):
        return x
    eq_comp = Pedalboard([
        LowShelfFilter(cutoff_frequency_hz=120.0, gain_db=mix.low_shelf_db, q=0.707),
        PeakFilter(cutoff_frequency_hz=3000.0, gain_db=mix.presence_db, q=0.9),
        HighShelfFilter(cutoff_frequency_hz=8000.0, gain_db=mix.high_shelf_db, q=0.707),
        Compressor(threshold_db=mix.comp_threshold_db, ratio=mix.comp_ratio, attack_ms=10.0, release_ms=120.0),
    ])
    x = _level(eq_comp(x, sample_rate))
    if mix.reverb_wet > 0:
        reverb = Reverb(room_size=room_size, damping=0.5, wet_level=mix.reverb_wet,
                        dry_level=1.0 - 0.5 * mix.reverb_wet, width=1.0)
        x = reverb(x, sample_rate)
    x = stereo.width_pan(x, mix.width, mix.pan).astype(np.float32)
    out = Pedalboard([
        Gain(gain_db=mix.gain_db),
        LowShelfFilter(cutoff_frequency_hz=300.0, gain_db=-tilt_db / 2, q=0.707),
        HighShelfFilter(cutoff_frequency_hz=3000.0, gain_db=tilt_db / 2, q=0.707),
    ])(x, sample_rate)
    return np.ascontiguousarray(out, dtype=np.float32)


def limiter_envelope(mixture: np.ndarray, ceiling_db: float, sample_rate: int) -> np.ndarray:
    """Gain envelope (N,) <= 1 that keeps |mixture * envelope| <= ceiling (sample peak).

    The needed gain is min-filtered over [t - release, t + attack] (look-ahead and hold) and then smoothed by
    a moving average of length `attack`; each averaged value only sees minima that cover the peak, so the
    smoothed gain never exceeds what the peak needs and the ceiling holds exactly.
    """
    ceiling = 10 ** (ceiling_db / 20)
    peak = np.max(np.abs(mixture), axis=0).astype(np.float64)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    if need.min() >= 1.0:
        return np.ones(mixture.shape[-1], dtype=np.float32)
    attack = max(1, int(LIMITER_ATTACK_S * sample_rate))
    release = max(attack, int(LIMITER_RELEASE_S * sample_rate))
    release += (attack + release) % 2  # an odd window, so the origin below is a whole number of samples
    # scipy's window for output t is [t - h - origin, t + h - origin] with h = size // 2: pick it to be
    # [t - release, t + attack] (a peak is anticipated by `attack` and held for `release`)
    held = minimum_filter1d(need, size=attack + release + 1, origin=(release - attack) // 2, mode="nearest")
    half = attack // 2
    smooth = uniform_filter1d(held, size=2 * half + 1, mode="nearest") if half > 0 else held
    return np.minimum(smooth, 1.0).astype(np.float32)


@dataclass(frozen=True)
class MasterResult:
    stems: np.ndarray          # (4, 2, N) float32, as they sit in the mastered mix
    mixture: np.ndarray        # (2, N) float32, the sum of `stems`
    integrated_lufs: float
    peak_dbfs: float
    master_gain_db: float
    limiter_max_gr_db: float   # deepest gain reduction of the limiter (dB, >= 0)


def master(stems: np.ndarray, target_lufs: float, ceiling_db: float, sample_rate: int,
           iterations: int = MASTER_ITERATIONS) -> MasterResult:
    """Loudness gain to `target_lufs` (one scalar for all stems), then the limiter's common envelope.

    The limiter lowers loudness, so the gain is corrected and the limiter recomputed up to `iterations`
    times (stopping within 0.2 dB); a loud target therefore means more limiting, as in a real master.
    """
    loudness = integrated_lufs(stems.sum(axis=0), sample_rate)
    if not np.isfinite(loudness):  # a silent track: nothing to level
        mixture = stems.sum(axis=0, dtype=np.float32)
        return MasterResult(stems, mixture, float("-inf"), float("-inf"), 0.0, 0.0)
    gain_db = float(target_lufs - loudness)
    for _ in range(max(1, iterations)):
        applied_db = gain_db
        gained = (stems * np.float32(10 ** (applied_db / 20))).astype(np.float32)
        envelope = limiter_envelope(gained.sum(axis=0), ceiling_db, sample_rate)
        out = (gained * envelope[None, None, :]).astype(np.float32)
        mixture = out.sum(axis=0, dtype=np.float32)
        measured = integrated_lufs(mixture, sample_rate)
        if abs(measured - target_lufs) < 0.2:
            break
        gain_db += target_lufs - measured
    peak = float(np.max(np.abs(mixture)))
    return MasterResult(
        stems=out, mixture=mixture, integrated_lufs=measured,
        peak_dbfs=float(20 * np.log10(peak)) if peak > 0 else float("-inf"),
        master_gain_db=applied_db, limiter_max_gr_db=float(max(0.0, -20 * np.log10(max(float(envelope.min()), 1e-12)))))
