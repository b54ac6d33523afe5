"""The one pan law and stereo width (mixrep.signal.stereo): energy invariants and identities."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.signal.stereo import mid_side, pan, pan_gains, width, width_pan

POSITIONS = np.linspace(-1.0, 1.0, 21)


@pytest.mark.parametrize("position", POSITIONS)
def test_constant_power_pan_keeps_the_summed_gain_power(position: float) -> None:
    left, right = pan_gains(position)
    assert left ** 2 + right ** 2 == pytest.approx(2.0, abs=1e-12)  # unity per channel at the centre
    assert left >= -1e-15 and right >= -1e-15


def test_pan_centre_is_unity_and_ends_are_hard() -> None:
    assert pan_gains(0.0) == pytest.approx((1.0, 1.0), abs=1e-12)
    assert pan_gains(-1.0)[1] == pytest.approx(0.0, abs=1e-12)
    assert pan_gains(1.0)[0] == pytest.approx(0.0, abs=1e-12)
    assert pan_gains(0.5)[1] > pan_gains(0.5)[0]  # +1 is right


def test_pan_keeps_the_audio_dtype_and_the_energy_of_a_mono_source() -> None:
    mono = np.random.default_rng(0).standard_normal(2000).astype(np.float32)
    x = np.stack([mono, mono])
    for position in POSITIONS:
        out = pan(x, position)
        assert out.dtype == np.float32
        assert float(np.sum(out.astype(np.float64) ** 2)) == pytest.approx(float(np.sum(x.astype(np.float64) ** 2)),
                                                                           rel=1e-5)


def test_width_identities() -> None:
    x = np.random.default_rng(1).standard_normal((2, 1000))
    np.testing.assert_allclose(width(x, 1.0), x, atol=1e-12)
    mono = width(x, 0.0)
    np.testing.assert_array_equal(mono[0], mono[1])
    mid, side = mid_side(x)
    wide_mid, wide_side = mid_side(width(x, 2.0))
    np.testing.assert_allclose(wide_mid, mid, atol=1e-12)
    np.testing.assert_allclose(wide_side, 2.0 * side, atol=1e-12)
    assert width(x.astype(np.float32), np.float32(1.5)).dtype == np.float32


def test_width_pan_is_width_then_pan() -> None:
    x = np.random.default_rng(2).standard_normal((2, 1000))
    np.testing.assert_allclose(width_pan(x, 1.0, 0.0), x, atol=1e-12)
    hard_left = width_pan(x, 1.0, -1.0)
    np.testing.assert_allclose(hard_left[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(width_pan(x, 0.7, 0.3), width(x, 0.7) * np.array(pan_gains(0.3))[:, None])
    assert width_pan(x.astype(np.float32), 1.2, 0.1).dtype == np.float64


def test_batched_audio_keeps_channels_on_axis_minus_2() -> None:
    batch = np.random.default_rng(4).standard_normal((3, 4, 2, 100))
    mid, side = mid_side(batch)
    assert mid.shape == (3, 4, 100)
    np.testing.assert_array_equal(width(batch, 0.5)[1, 2], width(batch[1, 2], 0.5))
    np.testing.assert_array_equal(pan(batch, 0.3)[0, 1], pan(batch[0, 1], 0.3))
