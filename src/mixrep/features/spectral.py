"""Spectral family: octave band energies, low/high ratio, tilt and flatness of a long-term spectrum.

Bands (columns.BAND_CENTRES_HZ): octave bands with centres 1000 * 2**k Hz (63 Hz ... 16 kHz) and edges at
centre * 2**(+-1/2); the lowest band starts at 20 Hz, the highest ends at Nyquist. A bin belongs to the band
whose edges hold its centre frequency. With STFT 1024 at 44.1 kHz (43 Hz bins) the 63 Hz band holds two
bins; the features are long-term (averaged over frames), which is what a mix's balance is about.

Band energy is the seed's definition, the mean over frames of the log band power (in dB):

    e_k = (1/T) sum_t 10 log10(eps + sum_f H_k(f) |X(f,t)|^2),   eps = 1e-12 (= FLOOR_DB, -120 dBFS)

so a frame contributes at most its level and a silent frame exactly FLOOR_DB (e_k >= FLOOR_DB always).
This is not the log of the time-averaged power (which it was before): by Jensen e_k <= 10 log10 of the
mean power, with equality for a steady band; a stem that pauses, or a band that comes and goes, reads
lower. The low/high ratio is built the same way (two bands split at `split_hz`), and the tilt is fitted to
the e_k, so every column derived from band energies (the stems' deltas to the mix included) follows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixrep.features.columns import BAND_CENTRES_HZ, BAND_NAMES, FLOOR_DB, LOWEST_BAND_FROM_HZ, TARGETS, Feature
from mixrep.stems import STEMS

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis

FEATURES: tuple[Feature, ...] = (
    *(Feature(f"band{b}_db", "dBFS", f"energy of the {b} Hz octave band: mean over frames of "
              "10 log10(eps + band power), eps = 1e-12 (|STFT|^2, both channels averaged; the seed's e_k)",
              FLOOR_DB) for b in BAND_NAMES),
    *(Feature(f"band{b}_delta_db", "dB", f"band{b}_db of the stem minus that of the mix", FLOOR_DB,
              stems_only=True) for b in BAND_NAMES),
    Feature("low_high_db", "dB", "energy below features.low_high_split_hz over energy above it "
            "(difference of their mean-over-frames log energies, as the bands)", 0.0),
    Feature("tilt_db_per_oct", "dB/octave", "least-squares slope of the octave bands' energy density "
            "(band energy / bandwidth) against log2(centre frequency): white noise 0, pink -3", 0.0),
    Feature("flatness_db", "dB", "spectral flatness of the long-term power spectrum "
            "(geometric / arithmetic mean over the bins from 20 Hz to Nyquist)", FLOOR_DB),
)

_TINY = 1e-30
#: eps of e_k: the power at FLOOR_DB, so that log(eps + P) never goes below the table's floor
BAND_EPS = 10.0 ** (FLOOR_DB / 10.0)


def to_db(power: np.ndarray | float) -> np.ndarray:
    """10 log10(power) floored at FLOOR_DB (never -inf)."""
    return np.maximum(10.0 * np.log10(np.maximum(power, _TINY)), FLOOR_DB)


def band_edges(rate: float) -> np.ndarray:
    """(B, 2) lower and upper edge (Hz) of every octave band; a band above Nyquist is empty."""
    centres = np.asarray(BAND_CENTRES_HZ)
    edges = np.stack([centres * 2.0 ** -0.5, centres * 2.0 ** 0.5], axis=1)
    edges[0, 0] = LOWEST_BAND_FROM_HZ
    edges[-1, 1] = max(edges[-1, 1], rate / 2.0 + 1.0)
    return edges


def band_matrix(frequencies: np.ndarray, rate: float) -> np.ndarray:
    """(B, F) 0/1 membership of every bin in every band."""
    edges = band_edges(rate)
    return ((frequencies[None, :] >= edges[:, :1]) & (frequencies[None, :] < edges[:, 1:])).astype(np.float64)


def frame_band_matrix(frequencies: np.ndarray, rate: float, split_hz: float) -> np.ndarray:
    """(F, B + 2) H_k(f) of the per-frame powers: the B octave bands, then low (20 Hz .. split_hz) and high
    (split_hz .. Nyquist), the two halves of low_high_db."""
    low = (frequencies >= LOWEST_BAND_FROM_HZ) & (frequencies < split_hz)
    high = frequencies >= split_hz
    return np.concatenate([band_matrix(frequencies, rate), low[None].astype(np.float64),
                           high[None].astype(np.float64)]).T


def mean_log_db(frame_power: np.ndarray) -> np.ndarray:
    """(1/T) sum_t 10 log10(eps + P(t)) over the first axis (frames) of (T, ...) powers, eps = BAND_EPS;
    floored at FLOOR_DB (rounding aside it cannot go lower). No frames: FLOOR_DB."""
    power = np.asarray(frame_power, dtype=np.float64)
    if power.shape[0] == 0:
        return np.full(power.shape[1:], FLOOR_DB)
    return np.maximum(np.mean(10.0 * np.log10(BAND_EPS + power), axis=0), FLOOR_DB)


def spectral_features(mean_power: np.ndarray, frame_band_power: np.ndarray, frequencies: np.ndarray,
                      rate: float) -> dict[str, float]:
    """Band energies e_k (dB), low/high ratio, tilt and flatness of one target.

    Args:
        mean_power: (F,) long-term power spectrum (bins sum to the mean square): flatness and bin counts.
        frame_band_power: (T, B + 2) per-frame powers in the bands of `frame_band_matrix` (same split_hz).
    """
    members = band_matrix(frequencies, rate)
    n_bands = members.shape[0]
    if frame_band_power.shape[-1] != n_bands + 2:
        raise ValueError(f"frame_band_power needs {n_bands + 2} bands (frame_band_matrix), "
                         f"got {frame_band_power.shape[-1]}")
    energies = mean_log_db(frame_band_power)
    levels = energies[:n_bands]
    out = {f"band{name}_db": float(level) for name, level in zip(BAND_NAMES, levels)}
    out["low_high_db"] = float(energies[n_bands] - energies[n_bands + 1])

    # tilt: slope of the energy density (per Hz) over the bands that hold bins, against log2 frequency
    bins_per_band = members.sum(axis=1)
    used = bins_per_band > 0
    density = levels[used] - 10.0 * np.log10(bins_per_band[used])
    octaves = np.log2(np.asarray(BAND_CENTRES_HZ)[used])
    out["tilt_db_per_oct"] = float(np.polyfit(octaves, density, 1)[0]) if used.sum() >= 2 else 0.0

    audible = frequencies >= LOWEST_BAND_FROM_HZ
    spectrum = np.maximum(mean_power[audible], _TINY)
    flatness = np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum)
    out["flatness_db"] = float(to_db(flatness))
    return out


def compute(analysis: Analysis, settings: Any = None) -> dict[str, dict[str, float]]:
    """target -> spectral features from the shared STFT; stems also get their band deltas to the mix."""
    spectra = analysis.spectra
    out = {target: spectral_features(spectra.mean_power[t], spectra.band_power[t], spectra.frequencies,
                                     analysis.rate)
           for t, target in enumerate(TARGETS)}
    for stem in STEMS:
        for band in BAND_NAMES:
            out[stem][f"band{band}_delta_db"] = out[stem][f"band{band}_db"] - out["mix"][f"band{band}_db"]
    return out
