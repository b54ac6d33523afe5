"""Dynamics family: levels (RMS, sample peak, crest factor) and BS.1770 / EBU R128 loudness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixrep.signal import loudness
from mixrep.features.columns import FLOOR_DB, Feature
from mixrep.features.spectral import to_db
from mixrep.stems import STEMS

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis

FEATURES: tuple[Feature, ...] = (
    Feature("active", "flag", "1 when the RMS is above features.silence_threshold_db, else 0 "
            "(then every column of this target holds its sentinel)", 0.0),
    Feature("rms_db", "dBFS", "RMS over both channels (full-scale sine = -3.01)", FLOOR_DB),
    Feature("peak_db", "dBFS", "sample peak over both channels", FLOOR_DB),
    Feature("crest_db", "dB", "crest factor = peak_db - rms_db (full-scale sine = 3.01)", 0.0),
    Feature("loudness_lufs", "LUFS", "ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms "
            "blocks, absolute -70 LUFS and relative -10 LU gates)", FLOOR_DB, needs_s=loudness.BLOCK_S),
    Feature("rel_loudness_lu", "LU", "relative loudness = loudness_lufs(stem) - loudness_lufs(mix)",
            FLOOR_DB, stems_only=True, needs_s=loudness.BLOCK_S),
    Feature("st_loudness_median_lufs", "LUFS", "median short-term loudness (3 s windows, 100 ms hop) "
            "over windows above the -70 LUFS absolute gate", FLOOR_DB, needs_s=loudness.SHORT_TERM_S),
    Feature("st_loudness_max_lufs", "LUFS", "maximum short-term loudness", FLOOR_DB,
            needs_s=loudness.SHORT_TERM_S),
    Feature("dr_lu", "LU", "dynamic range: inter-quartile range of the gated short-term loudness", 0.0,
            needs_s=loudness.SHORT_TERM_S),
    Feature("lra_lu", "LU", "EBU R128 loudness range (EBU Tech 3342: 10th-95th percentile of the "
            "short-term loudness after -70 LUFS and -20 LU gates)", 0.0, needs_s=loudness.SHORT_TERM_S),
)


def level_features(x: np.ndarray) -> dict[str, float]:
    """RMS (dBFS), peak (dBFS) and crest factor (dB) of a stereo signal x (2, N), channels pooled.

    A full-scale sine reads rms -3.01 dBFS, peak 0 dBFS, crest 3.01 dB.
    """
    flat = x.reshape(-1)
    mean_square = float(np.dot(flat, flat)) / max(flat.size, 1)
    peak = max(float(flat.max()), -float(flat.min())) if flat.size else 0.0  # no |x| temporary
    rms_db = float(to_db(mean_square))
    peak_db = float(to_db(peak * peak))
    return {"rms_db": rms_db, "peak_db": peak_db, "crest_db": peak_db - rms_db}


def compute(analysis: Analysis, settings: Any = None) -> dict[str, dict[str, float]]:
    """target -> dynamics features; gated-out loudness is floored at FLOOR_DB, stems get rel_loudness_lu."""
    out: dict[str, dict[str, float]] = {}
    for target, signal_power in analysis.powers.items():
        stats = loudness.loudness_stats(signal_power, analysis.rate)
        out[target] = {
            **analysis.levels[target],
            "active": float(analysis.active[target]),
            "loudness_lufs": max(stats.integrated_lufs, FLOOR_DB),
            "st_loudness_median_lufs": max(stats.st_median_lufs, FLOOR_DB),
            "st_loudness_max_lufs": max(stats.st_max_lufs, FLOOR_DB),
            "dr_lu": stats.dr_lu,
            "lra_lu": stats.lra_lu,
        }
    for stem in STEMS:
        out[stem]["rel_loudness_lu"] = out[stem]["loudness_lufs"] - out["mix"]["loudness_lufs"]
    return out
