"""ITU-R BS.1770-4 loudness, short-term loudness and EBU R128 loudness range, vectorised.

The K-weighting uses exactly the coefficients of pyloudnorm's `Meter(rate, filter_class="DeMan")`
(Brecht De Man's derivation, which reproduces the BS.1770 table at 48 kHz for any rate; pyloudnorm's
default RBJ-cookbook filter reads about 0.035 LU low). A signal is K-weighted once; every block and window
mean square then comes from one cumulative sum, instead of one filter pass and one Python loop per meter
call. Gated integrated loudness follows pyloudnorm's block indexing and gates exactly, so the two agree
to float rounding (tests/test_signal_loudness.py), and the EBU Tech 3341 / 3342 cases hold.

`integrated_lufs(audio, rate)` is the one-call meter (float64 filter: pyloudnorm's numbers to ~1e-10 LU) the
corpus master, the transfer chain and the MUSHRA alignment use; the feature extractor filters in float32
once per signal and reads many windows of `k_weighted_power`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal
from pyloudnorm.iirfilter import IIRfilter

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
BLOCK_S = 0.4
BLOCK_OVERLAP = 0.75
SHORT_TERM_S = 3.0
SHORT_TERM_HOP_S = 0.1
_OFFSET = -0.691  # BS.1770 eq. 2


@lru_cache(maxsize=8)
def k_weighting_sos(rate: float) -> np.ndarray:
    """Second-order sections (2, 6) of the K-weighting: De Man's high shelf then high pass (pyloudnorm)."""
    shelf = IIRfilter(3.99984385397, 0.7071752369554193, 1681.9744509555319, rate, "high_shelf_DeMan")
    high_pass = IIRfilter(0.0, 0.5003270373253953, 38.13547087613982, rate, "high_pass_DeMan")
    sos = np.array([np.concatenate([f.b, f.a]) for f in (shelf, high_pass)])
    sos.setflags(write=False)
    return sos


def k_weight(x: np.ndarray, rate: float, dtype: type = np.float32) -> np.ndarray:
    """K-weighted audio, same shape as x (..., N), in `dtype`.

    float32 (the default) is about 4x faster than float64; the loudness moves by < 0.002 LU
    (tests/test_signal_loudness.py compares with pyloudnorm's float64 meter).
    """
    sos = k_weighting_sos(float(rate)).astype(dtype)
    return scipy.signal.sosfilt(sos, x.astype(dtype, copy=False), axis=-1)


def k_weighted_power(x: np.ndarray, rate: float, dtype: type = np.float32) -> np.ndarray:
    """Sum over channels of the squared K-weighted signal: x (..., C, N) -> (..., N).

    BS.1770 weights L and R by G = 1, so the channel sum is the loudness power per sample.
    """
    return channel_power(k_weight(x, rate, dtype))


def integrated_lufs(audio: np.ndarray, rate: float) -> float:
    """Integrated loudness (LUFS, -inf when every block is gated) of (C, N) or (N,) audio, float64 filter.

    Equals pyloudnorm's `Meter(rate, filter_class="DeMan").integrated_loudness(audio.T)` to float64
    rounding. Raises ValueError when the audio is shorter than one 400 ms block (as pyloudnorm does).
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"expected audio of shape (channels, samples), got {audio.shape}")
    if audio.shape[-1] < BLOCK_S * rate:
        raise ValueError(f"need at least {BLOCK_S} s of audio to measure loudness, got {audio.shape[-1]} "
                         f"samples at {rate} Hz")
    return integrated_loudness(k_weighted_power(audio, rate, np.float64), rate)


def channel_power(y: np.ndarray) -> np.ndarray:
    """Sum of squares over the channel axis (-2) of K-weighted audio (..., C, N), in its dtype."""
    power = np.square(y[..., 0, :])
    for c in range(1, y.shape[-2]):
        power += np.square(y[..., c, :])
    return power


def window_sums(power: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Sums of power[start:stop] for many (overlapping) windows in one float64 pass over the signal.

    The signal is cut at every window edge (`np.add.reduceat`, float64 accumulation), and each window
    sum is a difference of the running sum over those pieces: no per-sample float64 copy or cumsum.
    Edges beyond the signal are clipped to its end.
    """
    n = power.shape[-1]
    starts = np.minimum(starts, n)
    stops = np.minimum(stops, n)
    edges = np.unique(np.concatenate([starts, stops, [n]]))
    pieces = np.add.reduceat(power, edges[:-1], dtype=np.float64) if edges.size > 1 else np.zeros(0)
    running = np.concatenate([[0.0], np.cumsum(pieces)])
    return running[np.searchsorted(edges, stops)] - running[np.searchsorted(edges, starts)]


def block_edges(n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample edges of the 400 ms gating blocks (75 % overlap), exactly as pyloudnorm indexes them."""
    step = 1.0 - BLOCK_OVERLAP
    count = max(int(np.round(((n / rate - BLOCK_S) / (BLOCK_S * step)))) + 1, 1)
    j = np.arange(count, dtype=np.float64)
    # the same float expressions as pyloudnorm's loop, truncated like int(): identical block edges
    return (BLOCK_S * (j * step) * rate).astype(np.int64), (BLOCK_S * (j * step + 1) * rate).astype(np.int64)


def short_term_edges(n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the 3 s windows at a 100 ms hop that lie inside the signal (one window if n < 3 s)."""
    window = int(round(SHORT_TERM_S * rate))
    hop = int(round(SHORT_TERM_HOP_S * rate))
    if n < window:
        return np.array([0]), np.array([n])
    starts = np.arange(0, n - window + 1, hop)
    return starts, starts + window


def _lufs(mean_square: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return _OFFSET + 10.0 * np.log10(mean_square)


def gated_loudness(block_mean_squares: np.ndarray) -> float:
    """BS.1770-4 gating (absolute -70 LUFS, relative -10 LU) of block mean squares; -inf if all gated."""
    levels = _lufs(block_mean_squares)
    above_absolute = levels >= ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return float("-inf")
    relative_gate = float(_lufs(block_mean_squares[above_absolute].mean())) + RELATIVE_GATE_LU
    gated = (levels > relative_gate) & (levels > ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return float("-inf")
    return float(_lufs(block_mean_squares[gated].mean()))


def integrated_loudness(power: np.ndarray, rate: float) -> float:
    """Integrated loudness (LUFS) of a K-weighted power signal (see `k_weighted_power`)."""
    lower, upper = block_edges(power.shape[-1], rate)
    return gated_loudness(window_sums(power, lower, upper) / (BLOCK_S * rate))


def short_term_loudness(power: np.ndarray, rate: float) -> np.ndarray:
    """Short-term loudness (LUFS) of every 3 s window at a 100 ms hop (see `short_term_edges`)."""
    starts, stops = short_term_edges(power.shape[-1], rate)
    return _lufs(window_sums(power, starts, stops) / np.maximum(stops - starts, 1))


def loudness_range(short_term: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU): 95th - 10th percentile of gated short-term loudness."""
    gated = short_term[short_term >= ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return 0.0
    relative_gate = float(_lufs(np.mean(10.0 ** ((gated - _OFFSET) / 10.0)))) + LRA_RELATIVE_GATE_LU
    gated = gated[gated >= relative_gate]
    if gated.size == 0:
        return 0.0
    low, high = np.percentile(gated, [10.0, 95.0])
    return float(high - low)


@dataclass(frozen=True)
class LoudnessStats:
    """Loudness descriptors of one signal (-inf where nothing passes the gates; callers floor them)."""

    integrated_lufs: float
    st_median_lufs: float
    st_max_lufs: float
    dr_lu: float
    lra_lu: float


def loudness_stats(power: np.ndarray, rate: float) -> LoudnessStats:
    """All loudness descriptors from one K-weighted power signal, with one pass over its samples."""
    n = power.shape[-1]
    lower, upper = block_edges(n, rate)
    st_starts, st_stops = short_term_edges(n, rate)
    sums = window_sums(power, np.concatenate([lower, st_starts]), np.concatenate([upper, st_stops]))
    integrated = gated_loudness(sums[:lower.size] / (BLOCK_S * rate))
    short_term = _lufs(sums[lower.size:] / np.maximum(st_stops - st_starts, 1))
    gated = short_term[short_term >= ABSOLUTE_GATE_LUFS]
    if gated.size:
        q25, median, q75 = np.percentile(gated, [25.0, 50.0, 75.0])
        st_max = float(gated.max())
    else:
        q25 = median = q75 = st_max = float("-inf")
    return LoudnessStats(
        integrated_lufs=integrated,
        st_median_lufs=float(median),
        st_max_lufs=st_max,
        dr_lu=float(q75 - q25) if gated.size else 0.0,
        lra_lu=loudness_range(short_term),
    )
