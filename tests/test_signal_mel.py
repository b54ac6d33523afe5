"""The one Mel filterbank (mixrep.signal.mel) against torchaudio's, and its use by the three stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

from mixrep.features.masking import mel_filterbank as masking_filterbank
from mixrep.model.frontend import MelSettings, MelFrontend
from mixrep.signal.mel import hz_to_mel, mel_band_edges, mel_filterbank, mel_to_hz


@pytest.mark.parametrize(("n_fft", "rate", "n_mels", "fmin", "fmax"), [
    (1024, 44100, 128, 0.0, None), (2048, 44100, 32, 30.0, None), (1024, 48000, 64, 20.0, 16000.0)])
@pytest.mark.parametrize("norm", ["slaney", None])
def test_filterbank_equals_torchaudio_slaney(n_fft: int, rate: int, n_mels: int, fmin: float,
                                            fmax: float | None, norm: str | None) -> None:
    ours = mel_filterbank(n_fft, rate, n_mels, fmin, fmax, norm=norm)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torchaudio's formulas in float64, as ours
    try:
        theirs = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, fmin, rate / 2 if fmax is None else fmax, n_mels, rate, norm=norm,
            mel_scale="slaney").numpy().T
    finally:
        torch.set_default_dtype(default)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * theirs.max())


def test_the_front_end_uses_the_same_filters() -> None:
    frontend = MelFrontend(MelSettings())
    cfg = frontend.config
    fb = frontend.mel.mel_scale.fb.numpy().T
    # torchaudio's float32 filters: band edges near 20 kHz carry float32 rounding (1e-3 Hz)
    np.testing.assert_allclose(fb, mel_filterbank(cfg.n_fft, cfg.sample_rate, cfg.n_mels), rtol=1e-4,
                               atol=1e-5 * fb.max())


def test_slaney_scale_round_trips_and_is_linear_below_1khz() -> None:
    f = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 20000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-12, atol=1e-9)
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(500.0) == pytest.approx(7.5)


def test_area_norm_and_unit_peak() -> None:
    peak = mel_filterbank(4096, 44100, 20, 100.0, 8000.0, norm=None)
    assert peak.max(axis=1) == pytest.approx(np.ones(20), abs=0.05)
    area = mel_filterbank(4096, 44100, 20, 100.0, 8000.0)
    edges = mel_band_edges(20, 100.0, 8000.0)
    np.testing.assert_allclose(area, peak * (2.0 / (edges[2:] - edges[:-2]))[:, None])


def test_masking_wrapper_refuses_empty_bands_and_bad_ranges() -> None:
    matrix, centres = masking_filterbank(1024, 44100, 64, 20.0, None)
    assert matrix.shape == (513, 64) and matrix.dtype == np.float32 and centres.shape == (64,)
    with pytest.raises(ValueError, match="hold no FFT bin"):
        masking_filterbank(256, 44100, 128, 0.0, None)
    with pytest.raises(ValueError, match="mel_fmin_hz"):
        masking_filterbank(1024, 44100, 64, 30000.0, None)
    with pytest.raises(ValueError, match="fmin < fmax"):
        mel_filterbank(1024, 44100, 64, 100.0, 50.0)


def test_front_end_output_is_finite_log_power() -> None:
    x = torch.randn(1, 4, 2, 4096) * 0.1
    y = MelFrontend()(x)
    assert y.shape == (1, 4, 2, 128, 17) and torch.isfinite(y).all()
