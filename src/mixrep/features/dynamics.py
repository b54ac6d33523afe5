"""Dynamics family, sample-domain part: RMS, sample peak and crest factor (loudness is in loudness.py)."""

from __future__ import annotations

import numpy as np

from mixrep.features.spectral import to_db


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
