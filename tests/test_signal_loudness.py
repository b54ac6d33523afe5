"""BS.1770 / EBU R128 loudness of mixrep.signal.loudness against the EBU test cases (generated here).

EBU Tech 3341 v3 cases 1-5 (integrated) and 9 (short-term), EBU Tech 3342 cases 1-4 (loudness range),
at 44.1 and 48 kHz; plus agreement with pyloudnorm's DeMan-filter meter on a non-stationary signal
(float32 filter: 0.002 LU; float64 `integrated_lufs`: 1e-9 LU).
Levels are per channel of a stereo 1 kHz sine, in dBFS of its peak amplitude (the EBU convention).
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from mixrep.signal.loudness import (integrated_loudness, integrated_lufs, k_weighted_power, loudness_range,
                                    loudness_stats, short_term_loudness)

RATES = (44100, 48000)


def tone_sequence(rate: int, parts: list[tuple[float, float]], freq: float = 1000.0) -> np.ndarray:
    """Stereo 1 kHz sine, (2, N): consecutive (dBFS, seconds) parts with a continuous phase."""
    amplitude = np.concatenate([np.full(int(round(seconds * rate)), 10.0 ** (db / 20.0)) for db, seconds in parts])
    t = np.arange(amplitude.size) / rate
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x, x])


def lufs(x: np.ndarray, rate: int) -> float:
    return integrated_loudness(k_weighted_power(x, rate), rate)


TECH3341_INTEGRATED = {
    1: [(-23.0, 20.0)],
    2: [(-33.0, 20.0)],
    3: [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
    4: [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
    5: [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],
}
TECH3341_EXPECTED = {1: -23.0, 2: -33.0, 3: -23.0, 4: -23.0, 5: -23.0}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", sorted(TECH3341_INTEGRATED))
def test_tech3341_integrated_loudness(case: int, rate: int) -> None:
    x = tone_sequence(rate, TECH3341_INTEGRATED[case])
    assert lufs(x, rate) == pytest.approx(TECH3341_EXPECTED[case], abs=0.1)


@pytest.mark.parametrize("rate", RATES)
def test_tech3341_case9_short_term_is_constant(rate: int) -> None:
    # 1.34 s at -20 dBFS, 1.66 s at -30 dBFS, repeated: every 3 s window holds one period -> -23.0 LUFS
    x = tone_sequence(rate, [(-20.0, 1.34), (-30.0, 1.66)] * 6)
    short_term = short_term_loudness(k_weighted_power(x, rate), rate)
    assert short_term.size > 100  # 3 s windows at a 100 ms hop over 18 s
    np.testing.assert_allclose(short_term, -23.0, atol=0.1)


TECH3342_LRA = {
    1: ([(-20.0, 20.0), (-30.0, 20.0)], 10.0),
    2: ([(-20.0, 20.0), (-15.0, 20.0)], 5.0),
    3: ([(-40.0, 20.0), (-20.0, 20.0)], 20.0),
    4: ([(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", sorted(TECH3342_LRA))
def test_tech3342_loudness_range(case: int, rate: int) -> None:
    parts, expected = TECH3342_LRA[case]
    x = tone_sequence(rate, parts)
    assert loudness_range(short_term_loudness(k_weighted_power(x, rate), rate)) == pytest.approx(expected, abs=1.0)


def _programme(rate: int, seconds: float, seed: int) -> np.ndarray:
    """Non-stationary stereo test programme: noise with a slow level envelope and a quiet passage."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    envelope = 10.0 ** ((-20.0 + 12.0 * np.sin(2 * np.pi * np.arange(n) / n * 3.0)) / 20.0)
    envelope[n // 3: n // 3 + rate] *= 1e-3
    return (rng.standard_normal((2, n)) * envelope).astype(np.float32)


@pytest.mark.parametrize("rate", RATES)
def test_integrated_loudness_matches_pyloudnorm_deman(rate: int) -> None:
    x = _programme(rate, 12.0, seed=rate)
    reference = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(x.T.astype(np.float64))
    assert lufs(x, rate) == pytest.approx(reference, abs=0.002)


def test_loudness_is_scale_covariant() -> None:
    rate = 44100
    x = _programme(rate, 8.0, seed=1)
    base = loudness_stats(k_weighted_power(x, rate), rate)
    louder = loudness_stats(k_weighted_power(x * np.float32(2.0), rate), rate)
    assert louder.integrated_lufs - base.integrated_lufs == pytest.approx(20 * np.log10(2.0), abs=1e-3)
    assert louder.dr_lu == pytest.approx(base.dr_lu, abs=1e-3)
    assert louder.lra_lu == pytest.approx(base.lra_lu, abs=1e-3)


def test_silence_and_short_signals_are_gated_not_errors() -> None:
    rate = 44100
    assert loudness_stats(np.zeros(rate), rate).integrated_lufs == float("-inf")
    short = tone_sequence(rate, [(-23.0, 0.2)])
    assert np.isfinite(lufs(short, rate))  # one block over the whole excerpt (pyloudnorm would refuse)
    assert short_term_loudness(k_weighted_power(short, rate), rate).size == 1


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seconds", [0.4, 0.41, 3.0, 7.3])
def test_float64_meter_equals_pyloudnorm(rate: int, seconds: float) -> None:
    x = _programme(rate, seconds, seed=int(seconds * 10)).astype(np.float64)
    reference = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(x.T)
    assert integrated_lufs(x, rate) == pytest.approx(reference, abs=1e-9)
    mono = x[0]
    reference = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(mono)
    assert integrated_lufs(mono, rate) == pytest.approx(reference, abs=1e-9)


def test_a_1khz_sine_at_minus_20_dbfs_on_both_channels_reads_about_minus_20_lufs() -> None:
    # BS.1770: a 0 dBFS-peak 1 kHz sine in one channel reads -3.01 LUFS; two channels add 3.01 LU
    rate = 48000
    x = tone_sequence(rate, [(-20.0, 5.0)]).astype(np.float64)
    reference = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(x.T)
    assert integrated_lufs(x, rate) == pytest.approx(reference, abs=1e-9)
    assert integrated_lufs(x, rate) == pytest.approx(-20.0, abs=0.05)
    assert integrated_lufs(x[0], rate) == pytest.approx(-23.0, abs=0.05)


def test_silence_reads_minus_inf_and_too_short_audio_is_refused() -> None:
    assert integrated_lufs(np.zeros((2, 44100)), 44100) == float("-inf")
    with pytest.raises(ValueError, match="0.4 s"):
        integrated_lufs(np.zeros((2, 1000)), 44100)
