"""Separation quality measures, and exactly which published numbers each one is comparable to.

- `sdr`: the "new SDR" of the Music Demixing Challenge (Mitsufuji et al., 2021) and of SCNet's own
  validation (`new_sdr`): 10 log10((||s||^2 + d) / (||s - s_hat||^2 + d)) with d = 1e-7, sums over channels
  and samples of the **whole track**, one number per track and stem. Averaging it over tracks gives the
  MDX-style figure; it is *not* the SiSEC / MUSDB18 number.
- `sdr_v4_frames`: the SDR of BSS Eval v4 (museval 0.4, `museval.evaluate(..., mode="v4")`) per 1 s frame
  (window = hop = 44100 samples at 44.1 kHz). v4's SDR has no distortion filter: the time-invariant filters of
  v4 enter only ISR, SIR and SAR, and its SDR is 10 log10(||s||^2 / ||s - s_hat||^2) over channels x samples
  of the frame (no d; an exact estimate gives +inf). Like museval it keeps only whole frames (floor(N / 44100);
  one frame for shorter tracks) and marks a frame NaN for **every** stem when any reference or any estimate stem
  is silent in it (its channel sum is zero at every sample). Over one whole-track window it equals `sdr` up to
  d; equality with museval itself is tested (tests/test_separation_metrics.py).
- `median_frames`: the per-track aggregate of the SiSEC / MUSDB18 reports (museval's EvalStore): the median
  over the frames that are not NaN. The median of these over tracks, per stem, is what SiSEC 2018 and SCNet
  (Tong et al., 2024: 9.00 dB on MUSDB18-HQ = the mean over the four stems of these medians) publish; medians of
  1 s frames and whole-track energy ratios differ, so only this aggregate is comparable to those papers.
  museval raises on a reference stem that is all zeros over the whole track (or an all-zero estimate);
  `museval_sources` says which stems can be scored, the others are skipped and counted by the caller.
  BSS Eval v3 (mir_eval, fast_bss_eval) is the version whose SDR absorbs a 512-tap distortion filter.
- `si_sdr`: scale-invariant SDR (Le Roux et al., 2019) of the channel-stacked signal: the reference is
  scaled by the projection of the estimate on it before the ratio; the mean is not removed.
`sdr` and `si_sdr` take arrays (..., channels, samples) and reduce the last two axes; the v4 functions take
(stems, channels, samples).
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


MUSEVAL_WINDOW = 44100  # 1 s at 44.1 kHz: SiSEC / MUSDB18's window and hop


def frame_slices(num_samples: int, window: int = MUSEVAL_WINDOW, hop: int = MUSEVAL_WINDOW) -> list[slice]:
    """museval's framing: whole windows only (floor((N - window + hop) / hop)); one window if N <= window."""
    count = (num_samples - window + hop) // hop if window < num_samples else 1
    return [slice(t * hop, min(t * hop + window, num_samples)) for t in range(count)]


def _silent(stems: np.ndarray) -> np.ndarray:
    """Per stem of (S, C, n): museval's notion of silence (the channel sum is zero at every sample)."""
    return np.all(np.sum(stems, axis=1) == 0, axis=-1)


def museval_sources(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Boolean per stem of (S, C, N): museval can score it (neither the reference nor the estimate is silent
    over the whole track; museval raises on such a stem)."""
    return ~(_silent(np.asarray(reference)) | _silent(np.asarray(estimate)))


def _pad_or_truncate(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """The estimate cut or zero-padded to the reference's length (museval.pad_or_truncate)."""
    n = reference.shape[-1]
    if estimate.shape[-1] >= n:
        return estimate[..., :n]
    return np.pad(estimate, [(0, 0)] * (estimate.ndim - 1) + [(0, n - estimate.shape[-1])])


def sdr_v4_frames(reference: np.ndarray, estimate: np.ndarray, window: int = MUSEVAL_WINDOW,
                  hop: int = MUSEVAL_WINDOW) -> np.ndarray:
    """BSS Eval v4 SDR (dB) of every stem in every frame: (S, C, N) pairs -> (S, frames); NaN frames as museval."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = _pad_or_truncate(reference, np.asarray(estimate, dtype=np.float64))
    if reference.ndim != 3 or reference.shape[:2] != estimate.shape[:2]:
        raise ValueError(f"expected (stems, channels, samples) pairs, got {reference.shape} and {estimate.shape}")
    frames = frame_slices(reference.shape[-1], window, hop)
    out = np.full((reference.shape[0], len(frames)), np.nan)
    for t, part in enumerate(frames):
        ref, est = reference[..., part], estimate[..., part]
        if _silent(ref).any() or _silent(est).any():
            continue
        num = np.sum(ref**2, axis=(1, 2))
        den = np.sum((ref - est) ** 2, axis=(1, 2))
        with np.errstate(divide="ignore"):
            out[:, t] = np.where(den == 0, np.inf, 10.0 * np.log10(num / np.where(den == 0, 1.0, den)))
    return out


def museval_frames(reference: np.ndarray, estimate: np.ndarray, window: int = MUSEVAL_WINDOW,
                   hop: int = MUSEVAL_WINDOW) -> np.ndarray:
    """The same numbers from museval itself (`museval.evaluate`, mode v4): (S, C, N) pairs -> (S, frames).

    About 10 s of CPU for one 12 s stereo track with 4 stems (docs/separation.md), hence not the default."""
    import museval

    sdr_frames, _, _, _ = museval.evaluate(np.transpose(reference, (0, 2, 1)), np.transpose(estimate, (0, 2, 1)),
                                           win=window, hop=hop, mode="v4", padding=True)
    return np.asarray(sdr_frames, dtype=np.float64)


def median_frames(frames: np.ndarray) -> np.ndarray:
    """Per stem: the median over the frames that are not NaN (NaN when none is), as museval's EvalStore."""
    frames = np.asarray(frames, dtype=np.float64)
    out = np.full(frames.shape[0], np.nan)
    for i, row in enumerate(frames):
        valid = row[~np.isnan(row)]
        if valid.size:
            out[i] = np.median(valid)
    return out
