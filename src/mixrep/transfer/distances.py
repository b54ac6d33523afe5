"""Audio-feature distances between two mixes, in the families mix-style transfer papers report.

Loudness (integrated LUFS), dynamics (crest factor), spectral balance (Mel-band energies relative to their
mean, so loudness does not leak into it), and stereo image (side energy share = width, left/right imbalance).
Each is a plain absolute difference in its natural unit; `feature_distance` combines them on common scales
for the optional feature term of the ST-ITO objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import welch

from mixrep.signal.loudness import integrated_lufs
from mixrep.signal.mel import mel_filterbank
from mixrep.signal.stereo import mid_side
from mixrep.stems import SAMPLE_RATE

N_MELS = 32
N_FFT = 2048
EPS = 1e-12
# Scales of `feature_distance`: one unit is roughly a clearly audible difference in that family.
SCALES = {"crest_db": 3.0, "mel_db": 3.0, "width": 0.1, "imbalance_db": 2.0}
DISTANCE_NAMES = ("loudness_lu", "crest_db", "mel_db", "width", "imbalance_db")


@dataclass(frozen=True)
class MixFeatures:
    """Style descriptors of one (2, N) mix."""

    loudness_lufs: float
    crest_db: float
    mel_db: np.ndarray  # (N_MELS,) band energies in dB minus their mean
    width: float  # side energy / (mid + side energy), 0 = mono
    imbalance_db: float  # left minus right energy, dB


@lru_cache(maxsize=4)
def _mel_bank(sample_rate: int) -> np.ndarray:
    """Area-normalised Slaney Mel filters (N_MELS, N_FFT // 2 + 1) from 30 Hz (`mixrep.signal.mel`)."""
    return mel_filterbank(N_FFT, sample_rate, N_MELS, fmin=30.0, norm="slaney")


def mix_features(mix: np.ndarray, sample_rate: int = SAMPLE_RATE) -> MixFeatures:
    """Descriptors of a (2, N) mix."""
    mix = np.asarray(mix, dtype=np.float64)
    if mix.ndim != 2 or mix.shape[0] != 2:
        raise ValueError(f"expected a stereo mix of shape (2, N), got {mix.shape}")
    rms = math.sqrt(float(np.mean(mix ** 2)) + EPS)
    crest = 20.0 * math.log10((float(np.max(np.abs(mix))) + EPS) / rms)
    mid, side = mid_side(mix)
    nperseg = min(N_FFT, mix.shape[1])
    _, power = welch(mid, fs=sample_rate, nperseg=nperseg, nfft=N_FFT)
    bands = 10.0 * np.log10(_mel_bank(sample_rate) @ power + EPS)
    e_mid, e_side = float(np.sum(mid ** 2)), float(np.sum(side ** 2))
    e_left, e_right = float(np.sum(mix[0] ** 2)), float(np.sum(mix[1] ** 2))
    return MixFeatures(
        loudness_lufs=integrated_lufs(mix, sample_rate),
        crest_db=crest,
        mel_db=bands - bands.mean(),
        width=e_side / (e_mid + e_side + EPS),
        imbalance_db=10.0 * math.log10((e_left + EPS) / (e_right + EPS)),
    )


def feature_distances(a: MixFeatures, b: MixFeatures) -> dict[str, float]:
    """Absolute differences per family (LU, dB, dB, share, dB)."""
    loud = abs(a.loudness_lufs - b.loudness_lufs)
    return {
        "loudness_lu": float(loud) if math.isfinite(loud) else float("nan"),
        "crest_db": abs(a.crest_db - b.crest_db),
        "mel_db": float(np.mean(np.abs(a.mel_db - b.mel_db))),
        "width": abs(a.width - b.width),
        "imbalance_db": abs(a.imbalance_db - b.imbalance_db),
    }


def feature_distance(a: MixFeatures, b: MixFeatures) -> float:
    """Loudness-free scalar style distance: the mean of the family distances divided by SCALES."""
    d = feature_distances(a, b)
    return float(np.mean([d[name] / scale for name, scale in SCALES.items()]))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity along the last axis (broadcasting), in [0, 2]."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    num = np.sum(a * b, axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + EPS
    return 1.0 - num / den
