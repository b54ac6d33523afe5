"""The per-stem chain: identity at neutral settings, determinism, loudness target, pan/width."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.signal.loudness import integrated_lufs
from mixrep.transfer.chain import ChainSettings, render
from mixrep.transfer.params import ParamSpace

SR = 44100


def _stems(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tones = np.stack([np.sin(2 * np.pi * f * t) for f in (440.0, 80.0, 3000.0, 1000.0)])
    noise = 0.05 * rng.standard_normal((4, 2, n))
    return (0.2 * tones[:, None, :] + noise).astype(np.float32)


def test_neutral_chain_is_identity_without_master() -> None:
    stems = _stems()
    space = ParamSpace()
    out = render(stems, space.to_physical(space.neutral_vector()), SR, settings=ChainSettings(target_lufs=None))
    np.testing.assert_allclose(out, stems, atol=2e-4)


def test_render_is_bit_identical_and_bypass_passes_through() -> None:
    stems = _stems()
    space = ParamSpace(bypass=["bass"])
    vector = np.random.default_rng(1).uniform(size=space.dim)
    physical = space.to_physical(vector)
    settings = ChainSettings(target_lufs=None)
    first = render(stems, physical, SR, space.bypass, settings)
    second = render(stems, physical, SR, space.bypass, settings)
    assert first.tobytes() == second.tobytes()
    np.testing.assert_array_equal(first[1], stems[1])  # bass is bypassed
    assert not np.allclose(first[0], stems[0])


def test_master_gain_reaches_loudness_target() -> None:
    stems = _stems(2.0)
    space = ParamSpace()
    vector = np.random.default_rng(2).uniform(size=space.dim)
    out = render(stems, space.to_physical(vector), SR, settings=ChainSettings(target_lufs=-20.0))
    assert integrated_lufs(out.sum(axis=0), SR) == pytest.approx(-20.0, abs=0.05)
