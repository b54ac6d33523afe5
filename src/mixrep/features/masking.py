"""Masking family: how much each stem is buried under the others, band by band and frame by frame.

For stem i with Mel-band levels S_i(k, t) (dB), the dominance margin is
Delta_i = S_i - max_{j != i} S_j, the logistic masking mu_i = sigmoid((beta - Delta_i) / tau), and

    M_i = sum_{k,t} w_i(k,t) mu_i(k,t) / sum_{k,t} w_i(k,t),   w_i = a_i(t) b_i(k,t) A(k)

with a_i(t) = 1 when the stem's frame energy is above `activity_threshold_db` (dBFS), b_i(k,t) = 1 when
band k is within `band_range_db` of the stem's loudest band in that frame (a stem is only "masked" where it
has something to mask: without b, two stems in disjoint bands would count as masking each other), and A(k)
the perceptual band weight: the IEC 61672 A-weighting curve at the band centre, as a power ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.special

from mixrep.features.columns import FLOOR_DB, Feature
from mixrep.features.spectral import to_db
from mixrep.signal import mel
from mixrep.stems import STEMS

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis

FEATURES: tuple[Feature, ...] = (
    Feature("masking", "1", "M_i = sum w mu / sum w: mean logistic masking "
            "mu = sigmoid((beta - Delta_i)/tau) weighted by w = a(t) b(k,t) A(k) (active frames, the "
            "stem's own bands, A-weighting); 1 = buried under other stems, 0 = dominant", 0.0,
            stems_only=True),
    Feature("margin_db", "dB", "the same weighted mean of the dominance margin "
            "Delta_i = S_i - max_{j != i} S_j (Mel-band levels), clipped to +-60 dB",
            FLOOR_DB, stems_only=True),
    Feature("mean", "1", "mean of masking.<stem>.masking over the active stems", 0.0, mix_only=True),
    Feature("max", "1", "largest masking.<stem>.masking over the stems", 0.0, mix_only=True),
)

MARGIN_CLIP_DB = 60.0


def mel_filterbank(n_fft: int, rate: float, n_mels: int, fmin: float,
                   fmax: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Unit-peak Slaney Mel filters (`mixrep.signal.mel`): ((F, K) float32 matrix, (K,) centre frequencies).

    Raises ValueError when a filter holds no FFT bin (too many bands for n_fft), which would leave a
    band permanently silent.
    """
    fmax = rate / 2.0 if fmax is None else min(fmax, rate / 2.0)
    if not 0 <= fmin < fmax:
        raise ValueError(f"features: need 0 <= mel_fmin_hz < mel_fmax_hz, got {fmin}, {fmax}")
    weights = mel.mel_filterbank(n_fft, rate, n_mels, fmin, fmax, norm=None)
    empty = np.flatnonzero(weights.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"features: Mel bands {empty.tolist()} hold no FFT bin with n_fft={n_fft}, "
                         f"n_mels={n_mels}; lower n_mels or raise mel_fmin_hz")
    return weights.T.astype(np.float32), mel.mel_band_edges(n_mels, fmin, fmax)[1:-1]


def a_weighting_db(f: np.ndarray) -> np.ndarray:
    """IEC 61672-1 A-weighting (dB) at frequencies f (Hz); 0 dB at 1 kHz."""
    f2 = np.asarray(f, dtype=np.float64) ** 2
    ra = (12194.0 ** 2 * f2 ** 2) / ((f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
                                    * (f2 + 12194.0 ** 2))
    return 20.0 * np.log10(np.maximum(ra, 1e-30)) + 2.0


def band_weights(centres_hz: np.ndarray, weighting: str) -> np.ndarray:
    """A(k) as power ratios: A-weighting or flat."""
    if weighting == "flat":
        return np.ones_like(centres_hz)
    return 10.0 ** (a_weighting_db(centres_hz) / 10.0)


@dataclass(frozen=True)
class MaskingResult:
    """Per stem: M_i in [0, 1] and the weighted mean margin (dB); `weight` = sum of w_i (0: nothing active)."""

    masking: np.ndarray
    margin_db: np.ndarray
    weight: np.ndarray


def masking_scores(mel_power: np.ndarray, frame_power: np.ndarray, band_weight: np.ndarray, *,
                   beta_db: float, tau_db: float, activity_threshold_db: float,
                   band_range_db: float) -> MaskingResult:
    """M_i and margins from Mel-band powers (S, T, K) and frame powers (S, T) of S >= 2 stems."""
    levels = to_db(mel_power).astype(np.float32)  # S_i(k, t), dB, floored
    n_stems = levels.shape[0]
    # max_{j != i} S_j for every i from running maxima from the left and from the right
    floor = np.full(levels.shape[1:], -np.inf, dtype=np.float32)
    left = [floor]
    for i in range(n_stems - 1):
        left.append(np.maximum(left[-1], levels[i]))
    right = [floor]
    for i in range(n_stems - 1, 0, -1):
        right.append(np.maximum(right[-1], levels[i]))
    right = right[::-1]
    masking = np.zeros(n_stems)
    margin = np.full(n_stems, FLOOR_DB)
    total = np.zeros(n_stems)
    for i in range(n_stems):
        others = np.maximum(left[i], right[i])                              # max_{j != i} S_j
        delta = levels[i] - others                                      # (T, K)
        mu = scipy.special.expit((beta_db - delta) / tau_db)
        frame_active = to_db(frame_power[i]) > activity_threshold_db   # a_i(t)
        band_active = levels[i] >= levels[i].max(axis=1, keepdims=True) - band_range_db  # b_i(k, t)
        weight = (band_active & frame_active[:, None]) * band_weight[None, :].astype(np.float32)
        total[i] = float(weight.sum(dtype=np.float64))
        if total[i] > 0:
            masking[i] = float((weight * mu).sum(dtype=np.float64)) / total[i]
            clipped = np.clip(delta, -MARGIN_CLIP_DB, MARGIN_CLIP_DB)
            margin[i] = float((weight * clipped).sum(dtype=np.float64)) / total[i]
    return MaskingResult(masking, margin, total)


def compute(analysis: Analysis, settings: Any = None) -> dict[str, dict[str, float]]:
    """stem -> masking and margin; mix -> their mean and max over the active stems."""
    cfg = analysis.settings
    spectra = analysis.spectra
    weights = band_weights(analysis.mel[1], cfg.band_weighting)
    result = masking_scores(spectra.mel_power, spectra.frame_power, weights, beta_db=cfg.masking_beta_db,
                            tau_db=cfg.masking_tau_db, activity_threshold_db=cfg.activity_threshold_db,
                            band_range_db=cfg.band_range_db)
    out = {stem: {"masking": float(result.masking[i]), "margin_db": float(result.margin_db[i])}
           for i, stem in enumerate(STEMS)}
    scores = [float(result.masking[i]) for i, stem in enumerate(STEMS) if analysis.active[stem]]
    out["mix"] = {"mean": float(np.mean(scores)) if scores else 0.0,
                  "max": float(np.max(scores)) if scores else 0.0}
    return out
