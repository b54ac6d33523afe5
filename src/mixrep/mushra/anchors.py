"""BS.1534-3 anchors: the reference low-pass filtered at 3.5 kHz (low-range) and 7 kHz (mid-range).

webMUSHRA can build anchors in the browser (createAnchor35/70); we render them ourselves so that the filter
is documented, measured against a tolerance mask (`check_mask`) and loudness-matched like every other
stimulus. The filter is a linear-phase Kaiser-window FIR applied with its delay removed, so the anchor stays
sample-aligned with the reference (switching between them must not shift the music).

Tolerance mask (`AnchorMask`), relative to the nominal cut-off fc: the pass band up to fc stays within
+-0.1 dB of unity, and from 1.1 * fc on the response is at least 60 dB down. See docs/mushra.md for how this
relates to the Recommendation's text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import firwin, oaconvolve

from mixrep.stems import SAMPLE_RATE

ANCHORS_HZ: dict[str, float] = {"anchor35": 3500.0, "anchor70": 7000.0}


@dataclass(frozen=True)
class AnchorMask:
    """Tolerance mask of an anchor low-pass, relative to its cut-off."""

    passband_ripple_db: float = 0.1  # |gain| within +-this for 0 < f <= fc
    stopband_start: float = 1.1  # stop band from this multiple of fc on ...
    stopband_attenuation_db: float = 60.0  # ... at least this far down


def design_lowpass(cutoff_hz: float, sample_rate: int = SAMPLE_RATE, mask: AnchorMask = AnchorMask(),
                   margin_db: float = 10.0) -> np.ndarray:
    """Odd-length linear-phase FIR meeting `mask` with `margin_db` to spare in the stop band.

    The Kaiser design puts the transition band between fc and stopband_start * fc (firwin's cut-off sits in
    its middle); the length follows Kaiser's formula for the required attenuation.
    """
    nyquist = sample_rate / 2.0
    stop_hz = mask.stopband_start * cutoff_hz
    if stop_hz >= nyquist:
        raise ValueError(f"anchor cut-off {cutoff_hz} Hz too close to Nyquist ({nyquist} Hz)")
    attenuation = mask.stopband_attenuation_db + margin_db
    width = (stop_hz - cutoff_hz) / nyquist  # normalised to Nyquist = 1
    beta = 0.1102 * (attenuation - 8.7)
    numtaps = int(math.ceil((attenuation - 7.95) / (2.285 * math.pi * width))) + 1
    numtaps += 1 - numtaps % 2  # odd: integer group delay
    return firwin(numtaps, 0.5 * (cutoff_hz + stop_hz), window=("kaiser", beta), fs=sample_rate)


def lowpass(audio: np.ndarray, cutoff_hz: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Zero-delay low-pass of (..., N) audio (the FIR's group delay removed; edges see zero padding)."""
    taps = design_lowpass(cutoff_hz, sample_rate)
    audio = np.asarray(audio, dtype=np.float64)
    shape = (1,) * (audio.ndim - 1) + (taps.size,)
    return oaconvolve(audio, taps.reshape(shape), mode="same", axes=-1).astype(np.float32)


def make_anchor(audio: np.ndarray, name: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """`anchor35` or `anchor70` of (..., N) audio."""
    if name not in ANCHORS_HZ:
        raise ValueError(f"unknown anchor {name!r}; anchors are {list(ANCHORS_HZ)}")
    return lowpass(audio, ANCHORS_HZ[name], sample_rate)


def check_mask(freqs_hz: np.ndarray, response_db: np.ndarray, cutoff_hz: float,
               mask: AnchorMask = AnchorMask()) -> list[str]:
    """Violations of the mask by a measured response (empty list = the filter meets the mask)."""
    freqs_hz, response_db = np.asarray(freqs_hz), np.asarray(response_db)
    problems = []
    passband = (freqs_hz > 0) & (freqs_hz <= cutoff_hz)
    worst_pass = float(np.max(np.abs(response_db[passband]))) if passband.any() else 0.0
    if worst_pass > mask.passband_ripple_db:
        problems.append(f"pass band deviates {worst_pass:.3f} dB (> {mask.passband_ripple_db} dB) below {cutoff_hz} Hz")
    stopband = freqs_hz >= mask.stopband_start * cutoff_hz
    if stopband.any():
        worst_stop = float(np.max(response_db[stopband]))
        if worst_stop > -mask.stopband_attenuation_db:
            problems.append(f"stop band reaches {worst_stop:.1f} dB (> -{mask.stopband_attenuation_db} dB) "
                            f"above {mask.stopband_start * cutoff_hz:.0f} Hz")
    return problems
