"""Closed-form values, fault directions, silent stems and determinism of `extract_features`.

Signals are generated here; faults are applied with the degrade stage's own `render_variant`, so these
tests also check that the features see what the degrade stage does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal

from mixrep.degrade import render_variant
from mixrep.features import extract_features, extract_segments, feature_columns
from mixrep.features.columns import FLOOR_DB, column_specs

RATE = 44100


def _noise(seconds: float, seed: int, channels: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((channels, int(seconds * RATE))).astype(np.float32)


def _bandpass(x: np.ndarray, low: float, high: float) -> np.ndarray:
    sos = scipy.signal.butter(8, [low, high], btype="bandpass", fs=RATE, output="sos")
    return scipy.signal.sosfilt(sos, x, axis=-1).astype(np.float32)


def _pink(seconds: float, seed: int) -> np.ndarray:
    """Pink noise (power ~ 1/f) by spectral shaping of white noise."""
    white = np.random.default_rng(seed).standard_normal(int(seconds * RATE))
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(white.size, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, white.size)
    return (pink / np.std(pink) * 0.1).astype(np.float32)


def _stems_with(target: int, stereo: np.ndarray) -> np.ndarray:
    stems = np.zeros((4, 2, stereo.shape[-1]), dtype=np.float32)
    stems[target] = stereo
    return stems


def song(seconds: float = 9.0, seed: int = 0) -> np.ndarray:
    """A small four-stem arrangement (4, 2, N): sung tone, bass line, drums, stereo pad in loud/quiet parts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    syllables = 0.5 * (1 + np.sign(np.sin(2 * np.pi * 2.0 * t)))
    f0 = 330.0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    vocals = 0.1 * syllables * sum(np.sin(k * phase) / k for k in range(1, 8))
    bass = 0.2 * np.sin(2 * np.pi * 55.0 * t) + 0.05 * np.sin(2 * np.pi * 110.0 * t)
    hits = np.zeros(n)
    hits[:: RATE // 2] = 1.0
    kick = scipy.signal.lfilter([1.0], [1.0, -0.999], hits) * np.sin(2 * np.pi * 60 * t)
    hats = scipy.signal.lfilter([1.0], [1.0, -0.99], hits[::-1])[::-1] * rng.standard_normal(n) * 0.3
    drums = 0.3 * kick / np.max(np.abs(kick)) + _bandpass(hats[None], 5000, 15000)[0]
    level = np.where(t < 4.0, 1.0, 0.15)  # a loud then a quiet passage: short-term loudness moves
    pad = _bandpass(rng.standard_normal((2, n)), 200, 4000) * 0.2 * level
    stems = np.stack([
        np.stack([vocals, vocals]),
        np.stack([bass, bass]),
        np.stack([drums * 1.1, drums * 0.9]),
        pad,
    ]).astype(np.float32)
    return stems


@pytest.fixture(scope="module")
def track() -> np.ndarray:
    return song()


@pytest.fixture(scope="module")
def base_row(track: np.ndarray) -> dict[str, float]:
    return extract_features(track, RATE)


def _render(track: np.ndarray, *effects: dict) -> np.ndarray:
    return render_variant(track, json.dumps(list(effects)), RATE)


# ---------------------------------------------------------------- closed forms

def test_full_scale_sine_rms_and_crest() -> None:
    t = np.arange(2 * RATE) / RATE
    sine = np.sin(2 * np.pi * 997.0 * t).astype(np.float32)
    row = extract_features(_stems_with(0, np.stack([sine, sine])), RATE)
    assert row["dynamics.vocals.rms_db"] == pytest.approx(-3.0103, abs=0.01)
    assert row["dynamics.vocals.crest_db"] == pytest.approx(3.0103, abs=0.01)
    assert row["dynamics.vocals.peak_db"] == pytest.approx(0.0, abs=0.01)


def test_ild_of_known_pan_gains() -> None:
    mono = 0.1 * _noise(3.0, 1)[0]
    left, right = 0.9, 0.3
    row = extract_features(_stems_with(1, np.stack([left * mono, right * mono])), RATE)
    assert row["stereo.bass.ild_db"] == pytest.approx(20 * np.log10(left / right), abs=0.01)
    assert row["stereo.bass.correlation"] == pytest.approx(1.0, abs=1e-5)


def test_correlation_and_msr() -> None:
    mono = 0.1 * _noise(3.0, 2)[0]
    independent = 0.1 * _noise(3.0, 3, channels=2)
    stems = np.stack([np.stack([mono, mono]), independent, np.stack([mono, -mono]),
                      np.zeros_like(independent)])
    row = extract_features(stems, RATE)
    assert row["stereo.vocals.correlation"] == pytest.approx(1.0, abs=1e-6)
    assert row["stereo.vocals.msr"] == pytest.approx(0.0, abs=1e-9)
    assert row["stereo.vocals.side_db"] == FLOOR_DB
    assert abs(row["stereo.bass.correlation"]) < 0.02
    assert row["stereo.bass.msr"] == pytest.approx(1.0, abs=0.05)
    assert row["stereo.drums.correlation"] == pytest.approx(-1.0, abs=1e-6)
    assert row["stereo.drums.mid_db"] == FLOOR_DB


def test_tilt_white_is_flat_and_pink_falls_3_db_per_octave() -> None:
    white = 0.1 * _noise(6.0, 4, channels=2)
    pink = np.stack([_pink(6.0, 5), _pink(6.0, 6)])
    row = extract_features(np.stack([white, pink, np.zeros_like(white), np.zeros_like(white)]), RATE)
    assert row["spectral.vocals.tilt_db_per_oct"] == pytest.approx(0.0, abs=0.3)
    assert row["spectral.bass.tilt_db_per_oct"] == pytest.approx(-3.0, abs=0.4)
    assert row["spectral.vocals.flatness_db"] > -1.0  # white noise is flat
    assert row["spectral.bass.flatness_db"] < row["spectral.vocals.flatness_db"] - 3.0


def test_band_energies_sum_to_the_mean_square() -> None:
    white = 0.1 * _noise(4.0, 7, channels=2)
    row = extract_features(_stems_with(2, white), RATE)
    bands = [row[f"spectral.drums.band{b}_db"] for b in ("63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k")]
    total_db = 10 * np.log10(np.sum(10.0 ** (np.array(bands) / 10.0)))
    assert total_db == pytest.approx(row["dynamics.drums.rms_db"], abs=0.1)  # bins below 20 Hz are left out


def test_masking_quiet_under_loud_and_disjoint_bands() -> None:
    loud = 0.3 * _bandpass(_noise(4.0, 8, channels=2), 500, 2000)
    quiet = 0.01 * _bandpass(_noise(4.0, 9, channels=2), 500, 2000)
    low = 0.3 * _bandpass(_noise(4.0, 10, channels=2), 80, 300)
    high = 0.3 * _bandpass(_noise(4.0, 11, channels=2), 4000, 8000)
    same = extract_features(np.stack([quiet, loud, np.zeros_like(loud), np.zeros_like(loud)]), RATE)
    assert same["masking.vocals.masking"] > 0.9
    assert same["masking.bass.masking"] < 0.1
    assert same["masking.vocals.margin_db"] < -15.0
    disjoint = extract_features(np.stack([np.zeros_like(low), low, high, np.zeros_like(low)]), RATE)
    assert disjoint["masking.bass.masking"] < 0.1
    assert disjoint["masking.drums.masking"] < 0.1


# ---------------------------------------------------------------- faults move their family

def test_gain_on_vocals_raises_their_relative_loudness(track: np.ndarray, base_row: dict) -> None:
    row = extract_features(_render(track, {"stem": "vocals", "effect": "gain", "params": {"gain_db": 6.0}}), RATE)
    assert row["dynamics.vocals.loudness_lufs"] - base_row["dynamics.vocals.loudness_lufs"] == \
        pytest.approx(6.0, abs=0.05)
    change = row["dynamics.vocals.rel_loudness_lu"] - base_row["dynamics.vocals.rel_loudness_lu"]
    assert 3.0 < change < 6.0  # the mix gets louder too
    assert row["masking.vocals.masking"] < base_row["masking.vocals.masking"]


def test_lowpass_lowers_high_band_energy(track: np.ndarray, base_row: dict) -> None:
    effects = [{"stem": s, "effect": "lowpass", "params": {"cutoff_hz": 2000.0, "order": 8}}
               for s in ("vocals", "bass", "drums", "other")]
    row = extract_features(_render(track, *effects), RATE)
    assert row["spectral.mix.band8k_db"] < base_row["spectral.mix.band8k_db"] - 30.0
    assert row["spectral.mix.low_high_db"] > base_row["spectral.mix.low_high_db"] + 3.0
    assert row["spectral.mix.tilt_db_per_oct"] < base_row["spectral.mix.tilt_db_per_oct"]
    assert row["spectral.mix.band125_db"] == pytest.approx(base_row["spectral.mix.band125_db"], abs=0.1)


def test_compression_lowers_crest_and_dynamic_range(track: np.ndarray, base_row: dict) -> None:
    compress = {"threshold_db": -40.0, "ratio": 10.0, "attack_ms": 1.0, "release_ms": 50.0}
    row = extract_features(_render(track, {"stem": "other", "effect": "compress", "params": compress}), RATE)
    assert row["dynamics.other.crest_db"] < base_row["dynamics.other.crest_db"] - 1.0
    assert row["dynamics.other.dr_lu"] < base_row["dynamics.other.dr_lu"] - 3.0
    assert row["dynamics.other.lra_lu"] < base_row["dynamics.other.lra_lu"]


def test_width_raises_mid_side_ratio(track: np.ndarray, base_row: dict) -> None:
    row = extract_features(_render(track, {"stem": "other", "effect": "width", "params": {"width": 2.0}}), RATE)
    assert row["stereo.other.msr"] == pytest.approx(4.0 * base_row["stereo.other.msr"], rel=1e-3)
    assert row["stereo.mix.msr"] > base_row["stereo.mix.msr"]
    assert row["stereo.mix.correlation"] < base_row["stereo.mix.correlation"]


# ---------------------------------------------------------------- silent stems, table guarantees

def test_silent_stem_gets_sentinels_and_no_nan(track: np.ndarray) -> None:
    stems = track.copy()
    stems[0] = 0.0
    row = extract_features(stems, RATE)
    assert row["dynamics.vocals.active"] == 0.0
    assert row["dynamics.bass.active"] == 1.0
    for spec in column_specs():
        if spec.target == "vocals":
            assert row[spec.name] == spec.sentinel, spec.name
    assert row["masking.vocals.masking"] == 0.0
    assert row["stereo.vocals.correlation"] == 0.0
    assert np.isfinite(list(row.values())).all()


def test_near_silent_and_all_silent_inputs_are_finite() -> None:
    quiet = 1e-6 * _noise(2.0, 12, channels=2)  # -120 dBFS: inactive
    stems = np.stack([quiet, quiet, quiet, np.zeros_like(quiet)])
    for x in (stems, np.zeros_like(stems)):
        row = extract_features(x, RATE)
        values = np.array(list(row.values()))
        assert np.isfinite(values).all()
        assert row["dynamics.mix.active"] == 0.0
        assert row["dynamics.mix.loudness_lufs"] == FLOOR_DB


def test_row_has_every_column_in_order_and_is_deterministic(track: np.ndarray, base_row: dict) -> None:
    assert list(base_row) == feature_columns()
    again = extract_features(track.copy(), RATE)
    assert again == base_row
    assert all(np.float32(v) == v for v in base_row.values())  # float32-representable


def test_segments_are_rows_of_their_excerpts(track: np.ndarray) -> None:
    rows = extract_segments(track, RATE, {"segment_s": 4.0})
    assert len(rows) == 2  # 9 s -> two 4 s segments, the 1 s tail dropped
    assert rows[1] == extract_features(track[..., 4 * RATE: 8 * RATE], RATE)
    assert extract_segments(track, RATE, {"segment_s": 20.0}) == [extract_features(track, RATE)]


def test_bad_input_is_a_clear_error(track: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shape"):
        extract_features(track[:3], RATE)
    broken = track.copy()
    broken[1, 0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        extract_features(broken, RATE)
    with pytest.raises(ValueError, match="unknown features settings"):
        extract_features(track, RATE, {"n_fft": 1024, "nfft": 2048})
