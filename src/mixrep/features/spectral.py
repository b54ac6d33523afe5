"""Spectral family: octave band energies, low/high ratio, tilt and flatness of a long-term spectrum.

Bands (columns.BAND_CENTRES_HZ): octave bands with centres 1000 * 2**k Hz (63 Hz ... 16 kHz) and edges at
centre * 2**(+-1/2); the lowest band starts at 20 Hz, the highest ends at Nyquist. A bin belongs to the band
whose edges hold its centre frequency. With STFT 1024 at 44.1 kHz (43 Hz bins) the 63 Hz band holds two
bins; the features are long-term (averaged over frames), which is what a mix's balance is about.
"""

from __future__ import annotations

import numpy as np

from mixrep.features.columns import BAND_CENTRES_HZ, BAND_NAMES, FLOOR_DB, LOWEST_BAND_FROM_HZ

_TINY = 1e-30


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


def spectral_features(mean_power: np.ndarray, frequencies: np.ndarray, rate: float,
                      split_hz: float) -> dict[str, float]:
    """Band levels (dBFS), low/high ratio, tilt and flatness of one long-term power spectrum (F,)."""
    members = band_matrix(frequencies, rate)
    band_power = members @ mean_power
    levels = to_db(band_power)
    out = {f"band{name}_db": float(level) for name, level in zip(BAND_NAMES, levels)}

    audible = frequencies >= LOWEST_BAND_FROM_HZ
    low = mean_power[audible & (frequencies < split_hz)].sum()
    high = mean_power[frequencies >= split_hz].sum()
    out["low_high_db"] = float(to_db(low) - to_db(high))

    # tilt: slope of the energy density (per Hz) over the bands that hold bins, against log2 frequency
    bins_per_band = members.sum(axis=1)
    used = bins_per_band > 0
    density = levels[used] - 10.0 * np.log10(bins_per_band[used])
    octaves = np.log2(np.asarray(BAND_CENTRES_HZ)[used])
    out["tilt_db_per_oct"] = float(np.polyfit(octaves, density, 1)[0]) if used.sum() >= 2 else 0.0

    spectrum = np.maximum(mean_power[audible], _TINY)
    flatness = np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum)
    out["flatness_db"] = float(to_db(flatness))
    return out
