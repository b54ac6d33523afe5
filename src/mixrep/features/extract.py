"""`extract_features`: one row of structured mixing features for a stack of four stems.

Every registered family (`mixrep.features.families.FAMILIES`) computes its columns from one shared
`analysis.Analysis`, whose transforms are made once: the stems are K-weighted once and short-time
transformed once; the mix (the sum of the stems) reuses both by linearity. Silent targets get the sentinels
of `columns.column_specs()` and every value is checked finite before it leaves this module.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mixrep.features.analysis import Analysis
from mixrep.features.columns import column_specs, feature_columns
from mixrep.features.families import FAMILIES
from mixrep.features.settings import FeatureSettings
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
    cfg = FeatureSettings.from_config(settings)
    analysis = Analysis(_check_stems(stems), sample_rate, cfg)
    values: dict[str, float] = {}
    for name in FAMILIES:
        family = FAMILIES.get(name)
        computed = family.compute(analysis, cfg.family(name))
        values.update({f"{name}.{target}.{feature}": value
                       for target, features in computed.items() for feature, value in features.items()})
    for spec in column_specs():
        if not analysis.active[spec.target]:
            values[spec.name] = spec.sentinel
    return _finalise(values)


def _finalise(values: dict[str, float]) -> dict[str, float]:
    """Table order, float32-representable values, and the guarantee: no NaN, no infinity."""
    names = feature_columns()
    missing = sorted(set(names) - set(values))
    extra = sorted(set(values) - set(names))
    if missing or extra:
        raise RuntimeError(f"the families computed other columns than they declare (FEATURES): "
                           f"missing {missing}, extra {extra}")
    row = np.array([values[name] for name in names], dtype=np.float32)
    bad = [name for name, ok in zip(names, np.isfinite(row)) if not ok]
    if bad:
        raise RuntimeError(f"non-finite feature values in {bad}")
    return dict(zip(names, row.tolist()))


def extract_segments(stems: np.ndarray, sample_rate: float,
                     settings: FeatureSettings | Mapping[str, Any] | None = None) -> list[dict[str, float]]:
    """Rows for consecutive segments of `segment_s` seconds (the tail shorter than a segment is dropped);
    one row for the whole signal when segment_s is None or the signal is shorter than one segment."""
    cfg = FeatureSettings.from_config(settings)
    stems = _check_stems(stems)
    n = stems.shape[-1]
    length = n if cfg.segment_s is None else int(round(cfg.segment_s * sample_rate))
    count = max(1, n // max(length, 1))
    if count == 1:
        return [extract_features(stems, sample_rate, cfg)]
    return [extract_features(stems[..., k * length:(k + 1) * length], sample_rate, cfg) for k in range(count)]


def undefined_columns(num_samples: int, sample_rate: float) -> list[str]:
    """Columns with no defined value on a window of `num_samples` samples (too short for their measure:
    `Feature.needs_s`, e.g. 3 s for short-term loudness, EBU Tech 3341/3342; 400 ms for BS.1770 blocks)."""
    seconds = num_samples / float(sample_rate)
    needs = {f"{name}.{feature.feature}": feature.needs_s for name in FAMILIES
             for feature in FAMILIES.get(name).features}
    return [spec.name for spec in column_specs() if needs[f"{spec.family}.{spec.feature}"] > seconds]


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
