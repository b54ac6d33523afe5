"""Anchors: measured magnitude response inside the tolerance mask, zero delay, mask checker catches bad filters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfreqz

from mixrep.mushra.anchors import ANCHORS_HZ, AnchorMask, check_mask, make_anchor

SR = 44100


@pytest.mark.parametrize("name", sorted(ANCHORS_HZ))
def test_anchor_response_meets_mask(name: str) -> None:
    impulse = np.zeros(1 << 15)
    impulse[impulse.size // 2] = 1.0
    response = make_anchor(impulse, name, SR)
    spectrum = np.fft.rfft(response.astype(np.float64))
    freqs = np.fft.rfftfreq(response.size, 1.0 / SR)
    response_db = 20 * np.log10(np.abs(spectrum) + 1e-300)
    assert check_mask(freqs, response_db, ANCHORS_HZ[name]) == []
    # zero delay: the impulse response peaks where the impulse was, so the anchor stays aligned
    assert int(np.argmax(response)) == impulse.size // 2


def test_mask_rejects_a_gentle_filter() -> None:
    sos = butter(4, 3500, "lowpass", fs=SR, output="sos")
    freqs = np.linspace(10, SR / 2, 4000)
    _, h = sosfreqz(sos, worN=freqs, fs=SR)
    problems = check_mask(freqs, 20 * np.log10(np.abs(h) + 1e-300), 3500.0, AnchorMask())
    assert any("pass band" in p for p in problems) and any("stop band" in p for p in problems)


def test_anchor_keeps_low_tone_and_removes_high_tone() -> None:
    t = np.arange(SR) / SR
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t)
    out = make_anchor(np.stack([low + high, low]), "anchor35", SR)
    middle = slice(SR // 4, 3 * SR // 4)
    np.testing.assert_allclose(out[0, middle], low[middle], atol=2e-3)
    assert out.shape == (2, SR)
