"""The feature extractor's loudness columns on EBU Tech 3341 case 1 (the meter itself: tests/test_signal_loudness.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.features import extract_features
from test_signal_loudness import tone_sequence


def test_extract_features_reports_tech3341_case1_for_the_mix() -> None:
    rate = 48000
    tone = tone_sequence(rate, [(-23.0, 10.0)])
    stems = np.zeros((4, 2, tone.shape[1]), dtype=np.float32)
    stems[3] = tone
    row = extract_features(stems, rate)
    assert row["dynamics.mix.loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert row["dynamics.mix.st_loudness_median_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert row["dynamics.other.rel_loudness_lu"] == pytest.approx(0.0, abs=1e-4)
    assert row["dynamics.mix.lra_lu"] == pytest.approx(0.0, abs=0.05)
