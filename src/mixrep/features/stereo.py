"""Stereo family: inter-channel level difference, L/R correlation, mid and side energies, mid/side ratio.

The correlation is the seed's Pearson coefficient rho = cov(L, R) / (sigma_L sigma_R), means removed, so a
DC offset on either channel does not count as shared content (before, it was sum(LR)/sqrt(sum L^2 sum R^2),
a correlation meter's reading, which a common DC offset pulls towards 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixrep.features.columns import FLOOR_DB, Feature
from mixrep.features.spectral import to_db

if TYPE_CHECKING:
    from mixrep.features.analysis import Analysis

FEATURES: tuple[Feature, ...] = (
    Feature("ild_db", "dB", "inter-channel level difference, energy of L over energy of R", 0.0),
    Feature("correlation", "1", "L/R Pearson correlation cov(L,R)/(sigma_L sigma_R) (means removed): "
            "1 dual mono, 0 independent, -1 polarity-inverted", 0.0),
    Feature("mid_db", "dBFS", "mean square of M = (L+R)/2", FLOOR_DB),
    Feature("side_db", "dBFS", "mean square of S = (L-R)/2", FLOOR_DB),
    Feature("msr", "1", "mid/side ratio E_S / (E_M + eps): 0 for mono, 1 for uncorrelated equal "
            "channels, large for out-of-phase content", 0.0),
)

EPS = 1e-12  # mean-square guard (-120 dBFS): keeps ratios finite for silent channels


def pearson(left: np.ndarray, right: np.ndarray) -> float:
    """cov(L, R) / sqrt(var_L var_R + EPS^2), clipped to [-1, 1]; 0 when either channel is constant.

    Means in float64; the centred channels' dot products in float32 (BLAS), which is exact enough for audio.
    """
    lc = left - np.float32(np.mean(left, dtype=np.float64))
    rc = right - np.float32(np.mean(right, dtype=np.float64))
    n = max(left.shape[-1], 1)
    var_left = float(np.dot(lc, lc)) / n
    var_right = float(np.dot(rc, rc)) / n
    cov = float(np.dot(lc, rc)) / n
    return float(np.clip(cov / np.sqrt(var_left * var_right + EPS * EPS), -1.0, 1.0))


def stereo_features(x: np.ndarray) -> dict[str, float]:
    """Features of one stereo signal x (2, N) float32: mean squares of L, R, M and S, and Pearson's rho."""
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
    return {
        "ild_db": float(10.0 * np.log10((e_left + EPS) / (e_right + EPS))),
        "correlation": pearson(left, right),
        "mid_db": float(to_db(e_mid)),
        "side_db": float(to_db(e_side)),
        "msr": float(e_side / (e_mid + EPS)),
    }


def compute(analysis: Analysis, settings: Any = None) -> dict[str, dict[str, float]]:
    """target -> stereo features of its signal."""
    return {target: stereo_features(signal) for target, signal in analysis.signals.items()}
