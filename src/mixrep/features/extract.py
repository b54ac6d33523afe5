"""`extract_features`: one row of structured mixing features for a stack of four stems.

The order of work is chosen for speed: the stems are K-weighted once and short-time transformed once;
the mix (the sum of the stems) reuses both by linearity. Silent targets get the sentinels of
`columns.column_specs()` and every value is checked finite before it leaves this module.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mixrep.features import loudness
from mixrep.features.columns import BAND_NAMES, FLOOR_DB, TARGETS, column_specs, feature_columns
from mixrep.features.dynamics import level_features
from mixrep.features.masking import band_weights, masking_scores, mel_filterbank
from mixrep.features.settings import FeatureSettings
from mixrep.features.spectral import frame_band_matrix, spectral_features
from mixrep.features.stereo import stereo_features
from mixrep.features.stft import analyse
from mixrep.stems import STEMS


def _check_stems(stems: Any) -> np.ndarray:
    array = np.asarray(stems)
    if array.ndim != 3 or array.shape[:2] != (len(STEMS), 2) or array.shape[2] == 0:
        raise ValueError(f"stems must have shape ({len(STEMS)}, 2, N>0) in order {STEMS}, got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"stems must be floating point audio, got dtype {array.dtype}")
    if not (np.isfinite(array.max()) and np.isfinite(array.min())):  # max/min propagate NaN
        raise ValueError("stems hold NaN or infinite samples")
    return array.astype(np.float32, copy=False)


def _floor(value: float) -> float:
    return max(value, FLOOR_DB)


def extract_features(stems: np.ndarray, sample_rate: float,
                     settings: FeatureSettings | Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every feature column (see `feature_columns()`) for the mix and each stem of stems (4, 2, N).

    Args:
        stems: float audio in STEMS order; the mix is their sum.
        sample_rate: Hz (44100 inside the pipeline).
        settings: the `features` config section (or a whole settings payload holding it, or None for
            the defaults).
    Returns:
        column name -> value (a float32-representable float), in table order, never NaN or infinite.
    """
    cfg = FeatureSettings.from_mapping(settings)
    stems = _check_stems(stems)
    rate = float(sample_rate)
    mix = stems.sum(axis=0)
    signals = {**{name: stems[i] for i, name in enumerate(STEMS)}, "mix": mix}

    # K-weighting once per stem channel; the mix's K-weighted signal is the sum (the filter is linear)
    weighted = loudness.k_weight(stems, rate)
    powers = {name: loudness.channel_power(weighted[i]) for i, name in enumerate(STEMS)}
    powers["mix"] = loudness.channel_power(weighted.sum(axis=0))
    del weighted

    mel_matrix, mel_centres = mel_filterbank(cfg.n_fft, rate, cfg.n_mels, cfg.mel_fmin_hz, cfg.mel_fmax_hz)
    bands = frame_band_matrix(np.fft.rfftfreq(cfg.n_fft, 1.0 / rate), rate, cfg.low_high_split_hz)
    spectra = analyse(stems, rate, cfg.n_fft, cfg.hop, mel_matrix, bands)

    values: dict[str, float] = {}
    active: dict[str, bool] = {}
    for t, target in enumerate(TARGETS):
        dynamics = _dynamics(signals[target], powers[target], rate)
        active[target] = dynamics["rms_db"] > cfg.silence_threshold_db
        dynamics["active"] = float(active[target])
        spectral = spectral_features(spectra.mean_power[t], spectra.band_power[t], spectra.frequencies, rate)
        values.update({f"dynamics.{target}.{k}": v for k, v in dynamics.items()})
        values.update({f"spectral.{target}.{k}": v for k, v in spectral.items()})
        values.update({f"stereo.{target}.{k}": v for k, v in stereo_features(signals[target]).items()})
    values.update(_relative_to_mix(values))
    weights = band_weights(mel_centres, cfg.band_weighting)
    values.update(_masking(spectra.mel_power, spectra.frame_power, weights, cfg, active))

    for spec in column_specs():
        if not active[spec.target]:
            values[spec.name] = spec.sentinel
    return _finalise(values)


def _dynamics(x: np.ndarray, power: np.ndarray, rate: float) -> dict[str, float]:
    """Level and loudness descriptors of one target; gated-out loudness is floored at FLOOR_DB."""
    stats = loudness.loudness_stats(power, rate)
    return {
        **level_features(x),
        "loudness_lufs": _floor(stats.integrated_lufs),
        "st_loudness_median_lufs": _floor(stats.st_median_lufs),
        "st_loudness_max_lufs": _floor(stats.st_max_lufs),
        "dr_lu": stats.dr_lu,
        "lra_lu": stats.lra_lu,
    }


def _relative_to_mix(values: dict[str, float]) -> dict[str, float]:
    """Relative loudness (Delta L) and band-energy deltas of every stem against the mix."""
    out = {}
    for stem in STEMS:
        out[f"dynamics.{stem}.rel_loudness_lu"] = (values[f"dynamics.{stem}.loudness_lufs"]
                                                   - values["dynamics.mix.loudness_lufs"])
        for band in BAND_NAMES:
            out[f"spectral.{stem}.band{band}_delta_db"] = (values[f"spectral.{stem}.band{band}_db"]
                                                           - values[f"spectral.mix.band{band}_db"])
    return out


def _masking(mel_power: np.ndarray, frame_power: np.ndarray, weights: np.ndarray, cfg: FeatureSettings,
             active: dict[str, bool]) -> dict[str, float]:
    """Masking columns of every stem and their summary over the active stems."""
    result = masking_scores(mel_power, frame_power, weights, beta_db=cfg.masking_beta_db,
                            tau_db=cfg.masking_tau_db, activity_threshold_db=cfg.activity_threshold_db,
                            band_range_db=cfg.band_range_db)
    out = {}
    for i, stem in enumerate(STEMS):
        out[f"masking.{stem}.masking"] = float(result.masking[i])
        out[f"masking.{stem}.margin_db"] = float(result.margin_db[i])
    scores = [float(result.masking[i]) for i, stem in enumerate(STEMS) if active[stem]]
    out["masking.mix.mean"] = float(np.mean(scores)) if scores else 0.0
    out["masking.mix.max"] = float(np.max(scores)) if scores else 0.0
    return out


def _finalise(values: dict[str, float]) -> dict[str, float]:
    """Table order, float32-representable values, and the guarantee: no NaN, no infinity."""
    names = feature_columns()
    missing = sorted(set(names) - set(values))
    extra = sorted(set(values) - set(names))
    if missing or extra:
        raise RuntimeError(f"feature columns out of sync with columns.py: missing {missing}, extra {extra}")
    row = np.array([values[name] for name in names], dtype=np.float32)
    bad = [name for name, ok in zip(names, np.isfinite(row)) if not ok]
    if bad:
        raise RuntimeError(f"non-finite feature values in {bad}")
    return dict(zip(names, row.tolist()))


def extract_segments(stems: np.ndarray, sample_rate: float,
                     settings: FeatureSettings | Mapping[str, Any] | None = None) -> list[dict[str, float]]:
    """Rows for consecutive segments of `segment_s` seconds (the tail shorter than a segment is dropped);
    one row for the whole signal when segment_s is None or the signal is shorter than one segment."""
    cfg = FeatureSettings.from_mapping(settings)
    stems = _check_stems(stems)
    n = stems.shape[-1]
    length = n if cfg.segment_s is None else int(round(cfg.segment_s * sample_rate))
    count = max(1, n // max(length, 1))
    if count == 1:
        return [extract_features(stems, sample_rate, cfg)]
    return [extract_features(stems[..., k * length:(k + 1) * length], sample_rate, cfg) for k in range(count)]


#: features that need at least this much audio (seconds): short-term loudness and what is built on it use
#: 3 s windows (EBU Tech 3341/3342), integrated loudness 400 ms gating blocks (BS.1770).
_NEEDS_S = {"st_loudness_median_lufs": loudness.SHORT_TERM_S, "st_loudness_max_lufs": loudness.SHORT_TERM_S,
            "dr_lu": loudness.SHORT_TERM_S, "lra_lu": loudness.SHORT_TERM_S,
            "loudness_lufs": loudness.BLOCK_S, "rel_loudness_lu": loudness.BLOCK_S}


def undefined_columns(num_samples: int, sample_rate: float) -> list[str]:
    """Columns with no defined value on a window of `num_samples` samples (too short for their measure)."""
    seconds = num_samples / float(sample_rate)
    return [name for name in feature_columns()
            if name.startswith("dynamics.") and _NEEDS_S.get(name.rsplit(".", 1)[1], 0.0) > seconds]


def extract_window_features(stems: np.ndarray, sample_rate: float,
                            settings: FeatureSettings | Mapping[str, Any] | None = None) -> dict[str, float]:
    """`extract_features` of a short window, with the columns its length cannot define set to NaN.

    An encoder view is ~0.74 s: a 3 s short-term loudness (or a DR / LRA from it) measured on it would be a
    different quantity under the same name, so it is marked missing instead (standardised to 0, the train
    mean, like every missing value: mixrep.pretrain.data.FeatureStats.transform). Every other value is
    exactly `extract_features` of the same samples.
    """
    row = extract_features(stems, sample_rate, settings)
    for name in undefined_columns(np.shape(stems)[-1], sample_rate):
        row[name] = float("nan")
    return row
