"""The seed's band energy (mean over frames of the log band power) and Pearson L/R correlation, on cases
computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.features import extract_features
from mixrep.features.columns import BAND_NAMES, FLOOR_DB
from mixrep.features.spectral import BAND_EPS, band_matrix, frame_band_matrix, mean_log_db, spectral_features
from mixrep.features.stereo import pearson, stereo_features

RATE = 44100


def test_band_eps_is_the_floor() -> None:
    assert BAND_EPS == pytest.approx(1e-12)
    assert 10 * np.log10(BAND_EPS) == pytest.approx(FLOOR_DB)


def test_mean_of_log_on_a_tiny_stft_by_hand() -> None:
    """|X(f, t)|^2 with 4 bins, 3 frames; band A = bins 0, 1 and band B = bins 2, 3."""
    power = np.array([[1e-2, 1e-2, 1e-4, 0.0],      # frame 0: A 2e-2, B 1e-4
                      [1e-3, 0.0, 1e-4, 1e-4],      # frame 1: A 1e-3, B 2e-4
                      [0.0, 0.0, 1e-6, 0.0]])       # frame 2: A silent, B 1e-6
    h = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=float).T      # H_k(f), (F, K)
    eps = 1e-12
    e_a = (10 * np.log10(eps + 2e-2) + 10 * np.log10(eps + 1e-3) + 10 * np.log10(eps + 0.0)) / 3
    e_b = (10 * np.log10(eps + 1e-4) + 10 * np.log10(eps + 2e-4) + 10 * np.log10(eps + 1e-6)) / 3
    got = mean_log_db(power @ h)
    np.testing.assert_allclose(got, [e_a, e_b], rtol=0, atol=1e-9)
    assert e_a == pytest.approx((-16.9897 - 30.0 - 120.0) / 3, abs=1e-3)
    # the old definition, log of the time-averaged power, is higher (Jensen) and differs a lot here
    old_a = 10 * np.log10((2e-2 + 1e-3 + 0.0) / 3)
    assert old_a == pytest.approx(-21.549, abs=1e-3) and old_a > e_a + 30.0


def test_spectral_features_use_the_mean_of_log() -> None:
    """Through spectral_features: two frames, a band at -20 and -40 dB gives -30 dB, not -23.0 (log-mean)."""
    n_fft = 1024
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    members = band_matrix(freqs, RATE)
    k = BAND_NAMES.index("1k")
    frame = np.zeros((2, freqs.size))
    first_bin = int(np.flatnonzero(members[k])[0])
    frame[0, first_bin] = 1e-2
    frame[1, first_bin] = 1e-4
    frame[:, 0] = 0.0
    bands = frame @ frame_band_matrix(freqs, RATE, 1000.0)
    out = spectral_features(frame.mean(axis=0), bands, freqs, RATE)
    assert out["band1k_db"] == pytest.approx(-30.0, abs=1e-6)
    assert out["band63_db"] == pytest.approx(FLOOR_DB)
    # all the power sits in the 1k band's first bin (~732 Hz, below the 1 kHz split); the high half is silent
    assert freqs[first_bin] < 1000.0
    assert out["low_high_db"] == pytest.approx(-30.0 - FLOOR_DB, abs=1e-6)


def test_extracted_band_energy_is_the_mean_log_of_the_frames() -> None:
    """A stem loud for half the signal and silent for the other half: e_k ~ (level - 120) / 2."""
    rng = np.random.default_rng(0)
    n = 2 * RATE
    noise = 0.1 * rng.standard_normal((2, n)).astype(np.float32)
    noise[:, n // 2:] = 0.0
    stems = np.zeros((4, 2, n), dtype=np.float32)
    stems[0] = noise
    steady = np.zeros_like(stems)
    steady[0] = 0.1 * rng.standard_normal((2, n)).astype(np.float32)
    gated, full = extract_features(stems, RATE), extract_features(steady, RATE)
    for band in ("1k", "8k"):
        level = full[f"spectral.vocals.band{band}_db"]
        # half the frames hold the steady level, half -120 dB; a few frames straddle the cut
        assert gated[f"spectral.vocals.band{band}_db"] == pytest.approx((level + FLOOR_DB) / 2, abs=1.0)
        # the delta to the mix is built on the same e_k (the mix is the vocals here)
        assert gated[f"spectral.vocals.band{band}_delta_db"] == pytest.approx(0.0, abs=1e-4)


def _dc_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 20000))
    left = (0.1 * a + 0.5).astype(np.float32)                 # independent content, both offset by +0.5
    right = (0.1 * (0.3 * a + b) + 0.5).astype(np.float32)
    return left, right


def test_pearson_matches_corrcoef_with_dc_offsets() -> None:
    left, right = _dc_pair()
    rho = np.corrcoef(left.astype(np.float64), right.astype(np.float64))[0, 1]
    uncentred = float(np.dot(left, right) / np.sqrt(np.dot(left, left) * np.dot(right, right)))
    assert uncentred > 0.9                       # the shared DC offset dominates the old reading
    assert rho == pytest.approx(0.3 / np.sqrt(1.09), abs=0.02)
    assert pearson(left, right) == pytest.approx(rho, abs=1e-5)
    assert stereo_features(np.stack([left, right]))["correlation"] == pytest.approx(rho, abs=1e-5)


def test_pearson_hand_case_and_edge_cases() -> None:
    left = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    right = np.array([10.0, 10.0, 12.0, 12.0], dtype=np.float32)
    # centred: l = (-1.5, -0.5, 0.5, 1.5), r = (-1, -1, 1, 1); cov = 4/4, var_l = 5/4, var_r = 1
    assert pearson(left, right) == pytest.approx(1.0 / np.sqrt(1.25), abs=1e-6)
    assert pearson(left, left) == pytest.approx(1.0, abs=1e-6)
    assert pearson(left, -left + 7.0) == pytest.approx(-1.0, abs=1e-6)
    assert pearson(left, np.full(4, 3.0, dtype=np.float32)) == 0.0   # a constant channel: no correlation
    silent = np.zeros(4, dtype=np.float32)
    assert pearson(silent, silent) == 0.0
