"""Stereo family: inter-channel level difference, L/R correlation, mid and side energies, mid/side ratio."""

from __future__ import annotations

import numpy as np

from mixrep.features.spectral import to_db

EPS = 1e-12  # mean-square guard (-120 dBFS): keeps ratios finite for silent channels


def stereo_features(x: np.ndarray) -> dict[str, float]:
    """Features of one stereo signal x (2, N) float32, from mean squares of L, R, M and S."""
    left, right = x[0], x[1]
    n = max(x.shape[-1], 1)
    # float32 dot products (BLAS); mid and side are formed explicitly so that a tiny side signal is not
    # lost in the cancellation of L^2 + R^2 - 2LR
    mid = left + right
    side = left - right
    e_left = float(np.dot(left, left)) / n
    e_right = float(np.dot(right, right)) / n
    e_mid = float(np.dot(mid, mid)) / (4.0 * n)
    e_side = float(np.dot(side, side)) / (4.0 * n)
    cross = e_mid - e_side  # = sum(LR) / n
    return {
        "ild_db": float(10.0 * np.log10((e_left + EPS) / (e_right + EPS))),
        "correlation": float(np.clip(cross / np.sqrt(e_left * e_right + EPS * EPS), -1.0, 1.0)),
        "mid_db": float(to_db(e_mid)),
        "side_db": float(to_db(e_side)),
        "msr": float(e_side / (e_mid + EPS)),
    }
