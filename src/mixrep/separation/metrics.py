"""Separation quality measures.

- `sdr`: the "new SDR" of the Music Demixing Challenge (Mitsufuji et al., 2021) and of SCNet's own
  validation (`new_sdr`): 10 log10((||s||^2 + d) / (||s - s_hat||^2 + d)) with d = 1e-7, sums over
  channels and samples of the whole track. Unlike BSS-Eval v4 (museval) it allows no distortion filter,
  so it is stricter and cheap; museval is not installable here.
- `si_sdr`: scale-invariant SDR (Le Roux et al., 2019) of the channel-stacked signal: the reference is
  scaled by the projection of the estimate on it before the ratio; the mean is not removed.
Both take arrays (..., channels, samples) and reduce the last two axes.
"""

from __future__ import annotations

import numpy as np

DELTA = 1e-7
EPS = 1e-12


def sdr(reference: np.ndarray, estimate: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """MDX / SCNet 'new SDR' in dB over the last two axes (channels, samples)."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference {reference.shape} and estimate {estimate.shape} differ in shape")
    num = np.sum(reference**2, axis=(-2, -1)) + delta
    den = np.sum((reference - estimate) ** 2, axis=(-2, -1)) + delta
    return 10.0 * np.log10(num / den)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Scale-invariant SDR in dB over the last two axes (channels stacked into one vector)."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference {reference.shape} and estimate {estimate.shape} differ in shape")
    dot = np.sum(reference * estimate, axis=(-2, -1), keepdims=True)
    energy = np.sum(reference**2, axis=(-2, -1), keepdims=True)
    target = dot / (energy + EPS) * reference
    noise = estimate - target
    return 10.0 * np.log10((np.sum(target**2, axis=(-2, -1)) + EPS) / (np.sum(noise**2, axis=(-2, -1)) + EPS))
