"""Mel frontend: shapes, the slaney filterbank has no empty band, mid/side vs L/R."""

from __future__ import annotations

import math

import pytest
import torch

from mixrep.model.frontend import MelSettings, MelFrontend


def test_shape_follows_hop_and_bands() -> None:
    frontend = MelFrontend()
    stems = torch.randn(3, 4, 2, 44100) * 0.1
    mels = frontend(stems)
    assert mels.shape == (3, 4, 2, 128, 1 + 44100 // 256)
    assert frontend.num_frames(44100) == mels.shape[-1]
    assert torch.isfinite(mels).all()


def test_no_empty_mel_filter() -> None:
    fbanks = MelFrontend().mel.mel_scale.fb  # (n_fft/2 + 1, n_mels)
    assert fbanks.shape == (513, 128)
    assert (fbanks.sum(dim=0) > 0).all(), "a Mel band without any FFT bin"


def test_mid_side_of_a_centred_source_has_silent_side() -> None:
    mono = torch.randn(1, 4, 1, 8192).repeat(1, 1, 2, 1) * 0.1
    ms = MelFrontend(MelSettings(stereo="midside"))(mono)
    lr = MelFrontend(MelSettings(stereo="lr"))(mono)
    floor = math.log(1e-5)
    assert torch.allclose(ms[:, :, 1], torch.full_like(ms[:, :, 1], floor))
    assert (ms[:, :, 0] > floor + 1).float().mean() > 0.9
    # L and R are equal; mid = (L+R)/2 equals L, so the mid spectrogram equals either channel
    assert torch.allclose(lr[:, :, 0], lr[:, :, 1])
    assert torch.allclose(ms[:, :, 0], lr[:, :, 0], atol=1e-4)


def test_rejects_mono_stems() -> None:
    with pytest.raises(ValueError, match="stems of shape"):
        MelFrontend()(torch.zeros(1, 4, 1, 2048))
