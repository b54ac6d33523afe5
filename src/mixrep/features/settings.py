"""Settings of the features stage (config section `features`), with the defaults of its schema.

One frozen dataclass so that every function receives explicit, validated parameters instead of a raw
dict; `workflow/schemas/sections/features.schema.yaml` documents the same keys with the same defaults
(tests/test_features_columns.py checks that the two agree). A family with settings of its own
(`FeatureFamily.settings`) reads them from `features.<family>`: that schema section is generated from its
dataclass (`mixrep.features.families.schema_patch`), and `FeatureSettings.family(name)` hands them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

BAND_WEIGHTINGS: tuple[str, ...] = ("a_weighting", "flat")


@dataclass(frozen=True)
class FeatureSettings:
    """Parameters of the feature extractor.

    Args:
        segment_s: seconds per feature segment (one row each); None = one row per whole track.
        n_fft: STFT size of the spectral and masking analyses (Hann window).
        hop: STFT hop in samples.
        low_high_split_hz: the split frequency of the low/high energy ratio.
        silence_threshold_db: a stem (or the mix) whose RMS (dBFS) is at or below this is `active = 0`
            and gets the documented sentinels instead of measured values.
        n_mels: Mel bands (Slaney scale) of the masking analysis.
        mel_fmin_hz / mel_fmax_hz: frequency range of the Mel filterbank (fmax None = Nyquist).
        masking_beta_db: dominance margin at which the logistic masking is 0.5.
        masking_tau_db: slope (dB) of the logistic masking.
        activity_threshold_db: a frame of a stem counts (a_i(t) = 1) when its energy is above this (dBFS).
        band_range_db: within an active frame, a Mel band of stem i counts when it lies within this many
            dB of the stem's loudest band in that frame (so a stem is not "masked" where it has no energy).
        band_weighting: A(k), the perceptual weight of Mel band k: `a_weighting` (IEC 61672 A-curve as a
            power weight at the band centre) or `flat`.
        family_settings: (family, its settings) for the families with settings of their own
            (`features.<family>`, a registry-owned schema section: `families.schema_patch`).
    """

    segment_s: float | None = None
    n_fft: int = 1024
    hop: int = 256
    low_high_split_hz: float = 1000.0
    silence_threshold_db: float = -70.0
    n_mels: int = 64
    mel_fmin_hz: float = 20.0
    mel_fmax_hz: float | None = None
    masking_beta_db: float = 0.0
    masking_tau_db: float = 3.0
    activity_threshold_db: float = -70.0
    band_range_db: float = 40.0
    band_weighting: str = "a_weighting"
    family_settings: tuple[tuple[str, Any], ...] = field(default=(), metadata={"patched": True})

    def __post_init__(self) -> None:
        if self.segment_s is not None and self.segment_s <= 0:
            raise ValueError(f"features.segment_s must be positive or null, got {self.segment_s}")
        if self.n_fft < 16 or self.hop < 1 or self.hop > self.n_fft:
            raise ValueError(f"features: need n_fft >= 16 and 1 <= hop <= n_fft, got {self.n_fft}, {self.hop}")
        if self.masking_tau_db <= 0:
            raise ValueError(f"features.masking_tau_db must be positive, got {self.masking_tau_db}")
        if self.band_weighting not in BAND_WEIGHTINGS:
            raise ValueError(f"features.band_weighting must be one of {BAND_WEIGHTINGS}, "
                             f"got {self.band_weighting!r}")
        if self.n_mels < 2:
            raise ValueError(f"features.n_mels must be >= 2, got {self.n_mels}")

    def family(self, name: str) -> Any:
        """The settings of family `name` (its dataclass's defaults when not configured); None without any."""
        from mixrep.features.families import FAMILIES

        cls = FAMILIES.get(name).settings
        if cls is None:
            return None
        return dict(self.family_settings).get(name) or cls()

    @classmethod
    def from_config(cls, settings: "FeatureSettings | Mapping[str, Any] | None") -> "FeatureSettings":
        """Build from the `features` config section, or from a whole `--settings` payload holding one.

        Unknown keys are an error (the schema forbids them too), so a typo never passes silently.
        """
        if settings is None:
            return cls()
        if isinstance(settings, FeatureSettings):
            return settings
        section = settings.get("features", settings) if isinstance(settings.get("features"), Mapping) \
            else settings
        from mixrep.features.families import FAMILIES
        from mixrep.schema import build_settings

        sections = {name for name in FAMILIES if FAMILIES.get(name).settings is not None}
        known = {f.name for f in fields(cls) if not f.metadata.get("patched")}
        unknown = sorted(set(section) - known - sections)
        if unknown:
            raise ValueError(f"unknown features settings {unknown}; known: {sorted(known | sections)}")
        family_settings = tuple(
            (name, build_settings(FAMILIES.get(name).settings, section[name], f"features.{name}"))
            for name in FAMILIES if name in sections and name in section)
        return cls(**{k: v for k, v in section.items() if k in known}, family_settings=family_settings)
