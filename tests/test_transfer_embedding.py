"""The encoder-free feature embedding: band RMS values are right, and it is batch-independent."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.transfer.embedding import feature_embed_fn

SR = 44100


def test_tone_lands_in_its_band_with_its_rms() -> None:
    t = np.arange(SR) / SR
    stems = np.zeros((1, 4, 2, SR))
    stems[0, 1] = 0.5 * np.sin(2 * np.pi * 100.0 * t)  # bass: below 150 Hz, centred (no side)
    stems[0, 2, 0] = 0.2 * np.sin(2 * np.pi * 5000.0 * t)  # drums: left only, 2.5-8 kHz band
    z = feature_embed_fn(SR)(stems).reshape(4, 6)
    assert z[1, 0] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert np.allclose(z[1, 1:], 0.0, atol=1e-6)
    assert z[2, 3] == pytest.approx(0.1 / np.sqrt(2), rel=1e-3)  # mid = half the left channel
    assert z[2, 5] == pytest.approx(0.1 / np.sqrt(2), rel=1e-3)  # side as large as mid
    assert np.allclose(z[[0, 3]], 0.0)


def test_batch_items_are_independent() -> None:
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((3, 4, 2, 4096))
    embed = feature_embed_fn(SR)
    np.testing.assert_allclose(embed(batch)[1], embed(batch[1:2])[0], rtol=1e-12)
