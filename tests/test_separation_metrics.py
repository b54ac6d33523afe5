"""SDR and SI-SDR against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.separation.metrics import DELTA, sdr, si_sdr


def test_sdr_hand_computed() -> None:
    s = np.array([[1.0, 2.0], [0.0, -1.0]])  # ||s||^2 = 6
    e = np.array([[1.0, 1.0], [1.0, -1.0]])  # ||s - e||^2 = 1 + 1 = 2
    assert sdr(s, e) == pytest.approx(10 * np.log10((6 + DELTA) / (2 + DELTA)))
    assert sdr(s, s) == pytest.approx(10 * np.log10((6 + DELTA) / DELTA))
    assert sdr(s, np.zeros_like(s)) == pytest.approx(0.0, abs=1e-6)


def test_sdr_reduces_the_last_two_axes() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4, 2, 100))
    est = ref + 0.1 * rng.normal(size=(4, 2, 100))
    values = sdr(ref, est)
    assert values.shape == (4,)
    np.testing.assert_allclose(values[2], sdr(ref[2], est[2]))


def test_si_sdr_hand_computed_and_scale_invariant() -> None:
    s = np.array([[3.0, 4.0]])  # ||s||^2 = 25
    e = np.array([[3.0, 0.0]])  # <e,s> = 9 -> target = 9/25 s = (1.08, 1.44); noise = (1.92, -1.44)
    target = np.array([1.08, 1.44])
    noise = np.array([1.92, -1.44])
    expected = 10 * np.log10(target @ target / (noise @ noise))
    assert si_sdr(s, e) == pytest.approx(expected, abs=1e-6)
    assert si_sdr(s, 5 * e) == pytest.approx(expected, abs=1e-6)
    assert si_sdr(s, 0.3 * s) > 100  # a scaled copy is perfect
    assert sdr(s, 0.5 * s) == pytest.approx(10 * np.log10(25 / 6.25), abs=1e-6)  # SDR is not scale invariant


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        sdr(np.zeros((2, 5)), np.zeros((2, 4)))


def test_silent_stems_are_detected_relative_to_the_mixture() -> None:
    from mixrep.separation.evaluate import silent_stems

    rng = np.random.default_rng(1)
    stems = rng.normal(size=(4, 2, 1000))
    stems[0] *= 1e-3  # vocals 60 dB down: silent
    stems[3] *= 1e-2  # other 40 dB down: active
    assert silent_stems(stems, stems.sum(0)) == ["vocals"]


def test_leakage_of_mixture_over_four_is_minus_12_db() -> None:
    from mixrep.separation.evaluate import leakage_db

    mixture = np.random.default_rng(2).normal(size=(2, 500))
    estimate = np.repeat(mixture[None] / 4.0, 4, axis=0)
    estimate[1] = 0.0
    values = leakage_db(estimate, mixture)
    assert values[0] == pytest.approx(20 * np.log10(0.25), abs=1e-9)  # -12.04 dB
    assert values[1] < -150  # exact silence


def _result(separated: dict[str, list[float]], baseline: dict[str, list[float]], silent: dict) -> dict:
    from mixrep.stems import STEMS

    tracks = [f"t{k}" for k in range(len(separated["vocals"]))]
    per_track = []
    for system, values in (("separated", separated), ("baseline", baseline)):
        for k, track in enumerate(tracks):
            per_track.append({"track_id": track, "system": system, "metric": "sdr",
                              **{name: values[name][k] for name in STEMS}})
    return {"tracks": tracks, "per_track": per_track,
            "silent_stems": {name: silent.get(name, []) for name in STEMS}}


def test_margins_skip_silent_tracks_and_count_wins() -> None:
    from mixrep.separation.evaluate import beats_baseline, margins

    separated = {"vocals": [-80.0, 2.0, 3.0], "bass": [1.0, 1.0, 1.0], "drums": [0.0, 0.0, 0.0],
                 "other": [5.0, 1.0, 0.0]}
    baseline = {"vocals": [-95.0, 1.0, 1.0], "bass": [2.0, 2.0, 2.0], "drums": [0.0, 0.0, 0.0],
                "other": [1.0, 1.0, 1.0]}
    result = _result(separated, baseline, {"vocals": ["t0"]})
    table = margins(result)
    assert table["vocals"]["mean"] == pytest.approx(1.5)  # (1 + 2) / 2: t0 is silent and left out
    assert (table["vocals"]["wins"], table["vocals"]["tracks"]) == (2, 2)
    assert table["vocals"]["ci95"] == pytest.approx([1.0, 2.0])  # bootstrap means lie between the two diffs
    assert table["bass"]["mean"] == pytest.approx(-1.0) and table["bass"]["wins"] == 0
    assert table["other"]["mean"] == pytest.approx(1.0) and table["other"]["wins"] == 1  # 4, 0, -1
    lo, hi = table["other"]["ci95"]
    assert -1.0 <= lo <= 1.0 <= hi <= 4.0
    assert beats_baseline(result) == {"vocals": True, "bass": False, "drums": False, "other": True}
    all_silent = margins(_result(separated, baseline, {"vocals": ["t0", "t1", "t2"]}))
    assert all_silent["vocals"] is None
