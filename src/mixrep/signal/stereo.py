"""The pan law and the stereo width (mid/side) of every stage: corpus mixing, degradation faults, transfer chain.

Pan: constant power, gains sqrt(2)·(cos θ, sin θ) with θ = (position + 1)·π/4, so the centre is unity
(to float rounding) and -1 / +1 is hard left / right; the summed power of a centred mono signal stays the
same at any position. Width: mid = (L+R)/2, side = (L-R)/2 · width, L' = mid + side, R' = mid - side
(0 = mono, 1 = unchanged, 2 = side doubled). Arithmetic runs in the dtype of the audio and of the scalar
the caller passes, which keeps each caller's numbers as they were written before this module existed.
"""

from __future__ import annotations

import numpy as np


def pan_gains(position: float) -> tuple[np.float64, np.float64]:
    """(left, right) gains of the constant-power pan law at `position` (-1 left .. +1 right), float64."""
    theta = (float(position) + 1.0) * np.pi / 4.0
    return np.sqrt(2.0) * np.cos(theta), np.sqrt(2.0) * np.sin(theta)


def pan(audio: np.ndarray, position: float) -> np.ndarray:
    """(..., 2, N) audio scaled by `pan_gains(position)`; the gains are cast to the audio's dtype."""
    return audio * np.asarray(pan_gains(position), dtype=audio.dtype).reshape(2, 1)


def mid_side(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mid = (L + R) / 2 and side = (L - R) / 2 of (..., 2, N) audio (channels on axis -2): (..., N) each."""
    left, right = audio[..., 0, :], audio[..., 1, :]
    return (left + right) * 0.5, (left - right) * 0.5


def width(audio: np.ndarray, amount: float) -> np.ndarray:
    """Side scaled by `amount`, mid untouched: (..., 2, N) -> (..., 2, N). Pass np.float32(amount) to stay in
    float32."""
    mid, side = mid_side(audio)
    side = side * amount
    return np.stack([mid + side, mid - side], axis=-2)


def width_pan(audio: np.ndarray, amount: float, position: float) -> np.ndarray:
    """`width` then the pan gains applied in float64 (float64 out, whatever the audio's dtype)."""
    return width(audio, amount) * np.asarray(pan_gains(position)).reshape(2, 1)
