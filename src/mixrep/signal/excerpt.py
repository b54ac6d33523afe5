"""The centred excerpt: which samples of a track every stage reads (analysis, Mel store, transfer, MUSHRA).

Seconds become samples by rounding to the nearest sample (`excerpt_samples`); the excerpt starts at
(n - length) // 2, so an odd leftover puts the extra sample after it. A track no longer than the excerpt,
or no excerpt (None), is taken whole.
"""

from __future__ import annotations

import numpy as np


def excerpt_samples(seconds: float | None, sample_rate: int) -> int | None:
    """`seconds` as a whole number of samples (nearest), None stays None."""
    return None if seconds is None else int(round(seconds * sample_rate))


def excerpt_bounds(num_samples: int, length: int | None) -> tuple[int, int]:
    """[start, stop) of the centred `length` samples (the whole track when it is shorter or length is None)."""
    if length is None or num_samples <= length:
        return 0, num_samples
    start = (num_samples - length) // 2
    return start, start + length


def centred_excerpt(audio: np.ndarray, length: int | None) -> np.ndarray:
    """The centred `length` samples of audio (..., N), a view (all of it when shorter or length is None)."""
    start, stop = excerpt_bounds(audio.shape[-1], length)
    return audio[..., start:stop]
