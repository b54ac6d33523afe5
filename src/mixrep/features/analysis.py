"""What every feature family reads: the targets' signals and the transforms they share, each made once.

A family's `compute(analysis, settings)` takes what it needs from here. The shared transforms are computed on
first use and kept: the K-weighted powers (loudness), one STFT of all stems with its Mel and octave-band
powers (spectral, masking), the sample levels and the activity of every target (the sentinel rule).
The mix is the sum of the stems; the transforms are linear, so the mix reuses the stems' (stft.py).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from mixrep.signal import loudness
from mixrep.features.columns import TARGETS
from mixrep.features.dynamics import level_features
from mixrep.features.masking import mel_filterbank
from mixrep.features.settings import FeatureSettings
from mixrep.features.spectral import frame_band_matrix
from mixrep.features.stft import SpectralAnalysis, analyse
from mixrep.stems import STEMS


class Analysis:
    """One stack of stems (4, 2, N) float32 at `rate` Hz under `settings`, with its shared transforms.

    Attributes:
        signals: target (stems, then `mix`) -> its stereo signal (2, N).
    """

    def __init__(self, stems: np.ndarray, rate: float, settings: FeatureSettings) -> None:
        self.stems = stems
        self.rate = float(rate)
        self.settings = settings
        self.signals: dict[str, np.ndarray] = {**{name: stems[i] for i, name in enumerate(STEMS)},
                                               "mix": stems.sum(axis=0)}

    @cached_property
    def powers(self) -> dict[str, np.ndarray]:
        """target -> K-weighted per-sample channel power (BS.1770); the mix's is from the sum of the stems'
        K-weighted signals (the filter is linear)."""
        weighted = loudness.k_weight(self.stems, self.rate)
        powers = {name: loudness.channel_power(weighted[i]) for i, name in enumerate(STEMS)}
        powers["mix"] = loudness.channel_power(weighted.sum(axis=0))
        return powers

    @cached_property
    def mel(self) -> tuple[np.ndarray, np.ndarray]:
        """(F, K) Mel filterbank of the masking analysis and its (K,) centre frequencies."""
        cfg = self.settings
        return mel_filterbank(cfg.n_fft, self.rate, cfg.n_mels, cfg.mel_fmin_hz, cfg.mel_fmax_hz)

    @cached_property
    def spectra(self) -> SpectralAnalysis:
        """One STFT of all stems: long-term spectra, Mel-band and octave-band powers (stft.analyse)."""
        cfg = self.settings
        mel_matrix, _ = self.mel
        bands = frame_band_matrix(np.fft.rfftfreq(cfg.n_fft, 1.0 / self.rate), self.rate, cfg.low_high_split_hz)
        return analyse(self.stems, self.rate, cfg.n_fft, cfg.hop, mel_matrix, bands)

    @cached_property
    def levels(self) -> dict[str, dict[str, float]]:
        """target -> RMS, peak and crest factor (dynamics.level_features)."""
        return {target: level_features(self.signals[target]) for target in TARGETS}

    @cached_property
    def active(self) -> dict[str, bool]:
        """target -> its RMS is above `features.silence_threshold_db` (else its columns hold sentinels)."""
        return {target: self.levels[target]["rms_db"] > self.settings.silence_threshold_db for target in TARGETS}
