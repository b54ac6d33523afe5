"""The Mel filterbank: triangular filters on Slaney's Mel scale (librosa's and torchaudio's `mel_scale="slaney"`).

`mel_filterbank` serves the masking features (unit-peak filters) and the transfer distances
(area-normalised, `norm="slaney"`). It follows torchaudio's `melscale_fbanks` formulas in float64; the
encoder's front end (`mel_spectrogram`, torch) is torchaudio's `MelSpectrogram` with the same scale and norm,
whose float32 filters equal `mel_filterbank`'s to 1e-7 (tests/test_signal_mel.py). The front end keeps
torchaudio's float32 filters: putting the float64 ones in their place moves 58 % of the log-Mel values by up
to 2.5e-4 and 0.09 % of the stored float16 Mels, so every trained number of a run would change.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3.0           # Hz per Mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = 15.0          # Mel at 1 kHz
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's Mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    log = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-9) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, f / _F_SP)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_band_edges(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """The n_mels + 2 band edges (Hz), equally spaced in Mel from fmin to fmax; band k peaks at edge k + 1."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))


def mel_filterbank(n_fft: int, sample_rate: float, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None, norm: str | None = "slaney") -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1), float64, over the FFT bins 0 .. sample_rate / 2.

    Args:
        n_fft: FFT size (bins at k * sample_rate / n_fft).
        sample_rate: audio rate, Hz.
        n_mels: number of bands.
        fmin, fmax: lowest and highest band edge (Hz); fmax None = sample_rate / 2.
        norm: "slaney" = area-normalised (each filter scaled by 2 / its width in Hz, torchaudio's and
            librosa's default), None = unit peak.
    """
    if norm not in (None, "slaney"):
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    fmax = sample_rate / 2.0 if fmax is None else fmax
    if not 0 <= fmin < fmax:
        raise ValueError(f"need 0 <= fmin < fmax, got fmin={fmin}, fmax={fmax}")
    freqs = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    edges = mel_band_edges(n_mels, fmin, fmax)
    widths = np.diff(edges)                          # (n_mels + 1,)
    slopes = edges[None, :] - freqs[:, None]         # F, n_mels + 2
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    bank = np.maximum(0.0, np.minimum(down, up)).T   # n_mels, F
    if norm == "slaney":
        bank = bank * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return bank


def mel_spectrogram(sample_rate: int, n_fft: int, hop_length: int, n_mels: int):  # -> torch.nn.Module
    """Power Mel spectrogram module (torchaudio, imported here): Slaney scale and norm, centred frames,
    filters from 0 Hz to sample_rate / 2 (those of `mel_filterbank(n_fft, sample_rate, n_mels)`)."""
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0,
        mel_scale="slaney", norm="slaney", center=True)
