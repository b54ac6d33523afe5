"""One short-time Fourier analysis of all stems, shared by the spectral and masking families.

The mix is the sum of the stems, and the STFT is linear, so the mix spectrum is the sum of the stems'
complex spectra: 8 transforms (4 stems x 2 channels) serve all five targets. Frames are processed in
chunks that stay in cache, so memory holds only the per-frame Mel energies, never a full spectrogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

_CHUNK_FRAMES = 256


@dataclass(frozen=True)
class SpectralAnalysis:
    """Power spectra normalised so that summing over bins gives the mean square (channels averaged).

    Attributes:
        frequencies: (F,) bin centre frequencies in Hz.
        mean_power: (5, F) long-term power spectrum of each stem and of the mix (last row).
        mel_power: (4, T, K) per-frame Mel-band power of each stem.
        frame_power: (4, T) per-frame energy of each stem (sum of its Mel bands).
        band_power: (5, T, B) per-frame power of each stem and of the mix in the bands of `band_matrix`
            (B = 0 when none was given); the spectral family takes the mean of its log over frames.
    """

    frequencies: np.ndarray
    mean_power: np.ndarray
    mel_power: np.ndarray
    frame_power: np.ndarray
    band_power: np.ndarray


def _bin_weights(n_fft: int, window: np.ndarray) -> np.ndarray:
    """One-sided scaling: |X_k|^2 * weight_k sums to the frame's mean square (Parseval with the window)."""
    weights = np.full(n_fft // 2 + 1, 2.0)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    return (weights / (n_fft * float(np.sum(window.astype(np.float64) ** 2)))).astype(np.float32)


def _add_power(spectrum: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """out += |spectrum|^2 without temporaries."""
    np.square(spectrum.real, out=scratch)
    out += scratch
    np.square(spectrum.imag, out=scratch)
    out += scratch


def analyse(stems: np.ndarray, rate: float, n_fft: int, hop: int, mel_matrix: np.ndarray,
            band_matrix: np.ndarray | None = None) -> SpectralAnalysis:
    """STFT (Hann, no centring; a signal shorter than n_fft is zero-padded) of stems (S, 2, N).

    `mel_matrix` (F, K) maps normalised bin power to Mel-band power; `band_matrix` (F, B), when given, maps
    it to the per-frame band powers of every stem and of the mix (`SpectralAnalysis.band_power`).
    """
    n_stems, n_channels, n = stems.shape
    if n < n_fft:
        stems = np.pad(stems, ((0, 0), (0, 0), (0, n_fft - n)))
        n = n_fft
    n_frames = 1 + (n - n_fft) // hop
    window = scipy.signal.get_window("hann", n_fft).astype(np.float32)  # periodic Hann
    bin_weight = _bin_weights(n_fft, window)
    n_bins = n_fft // 2 + 1
    frames = [[sliding_window_view(stems[s, c], n_fft)[::hop] for c in range(n_channels)]
              for s in range(n_stems)]
    sum_power = np.zeros((n_stems + 1, n_bins), dtype=np.float64)
    mel_power = np.empty((n_stems, n_frames, mel_matrix.shape[1]), dtype=np.float32)
    mel_matrix = mel_matrix.astype(np.float32, copy=False)
    bands = np.zeros((n_bins, 0), np.float32) if band_matrix is None else band_matrix.astype(np.float32)
    band_power = np.empty((n_stems + 1, n_frames, bands.shape[1]), dtype=np.float32)
    windowed = np.empty((_CHUNK_FRAMES, n_fft), dtype=np.float32)  # reused buffers: no per-chunk allocation
    power = np.empty((_CHUNK_FRAMES, n_bins), dtype=np.float32)
    scratch = np.empty((_CHUNK_FRAMES, n_bins), dtype=np.float32)
    mix_spectrum = np.empty((n_channels, _CHUNK_FRAMES, n_bins), dtype=np.complex64)
    for start in range(0, n_frames, _CHUNK_FRAMES):
        stop = min(start + _CHUNK_FRAMES, n_frames)
        rows = stop - start
        mix_spectrum[:, :rows] = 0.0
        for s in range(n_stems):
            power[:rows] = 0.0
            for c in range(n_channels):
                np.multiply(frames[s][c][start:stop], window, out=windowed[:rows])
                spectrum = scipy.fft.rfft(windowed[:rows], axis=-1)
                mix_spectrum[c, :rows] += spectrum
                _add_power(spectrum, power[:rows], scratch[:rows])
            power[:rows] *= bin_weight / n_channels
            sum_power[s] += power[:rows].sum(axis=0)
            np.matmul(power[:rows], mel_matrix, out=mel_power[s, start:stop])
            np.matmul(power[:rows], bands, out=band_power[s, start:stop])
        power[:rows] = 0.0
        for c in range(n_channels):
            _add_power(mix_spectrum[c, :rows], power[:rows], scratch[:rows])
        power[:rows] *= bin_weight / n_channels
        sum_power[n_stems] += power[:rows].sum(axis=0)
        np.matmul(power[:rows], bands, out=band_power[n_stems, start:stop])
    # frame energy: the unit-peak Mel triangles sum to 1 across their range, so the band sum is the
    # frame's mean square between mel_fmin and mel_fmax (what the activity threshold should look at)
    frame_power = mel_power.sum(axis=-1)
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / rate)
    return SpectralAnalysis(frequencies, sum_power / n_frames, mel_power, frame_power, band_power)
