"""Chunked inference: overlap-add, batching, normalisation, shifts, and the stem-order boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mixrep.separation.apply import (ApplySettings, apply_separator, overlap_add, separate_track,
                                     triangular_weight)
from mixrep.separation.scnet import SCNet
from mixrep.separation.scnet_entry import SCNET_ORDER, from_scnet_order, to_scnet_order
from mixrep.stems import STEMS

TINY = {"dims": [4, 8, 16, 32], "nfft": 1024, "hop_size": 256, "win_size": 1024, "conv_depths": [1, 1, 1],
        "num_dplayer": 2}


def identity(batch: torch.Tensor) -> torch.Tensor:
    """A 'model' that returns the mixture as each of 4 sources."""
    return batch[:, None].expand(-1, 4, -1, -1)


class Tagged(torch.nn.Module):
    """Source k (SCNet order) = mixture * (k + 1): shows where every output lands."""

    sources = list(SCNET_ORDER)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return torch.stack([mix * (k + 1) for k in range(4)], dim=1)


def test_triangular_weight() -> None:
    w = triangular_weight(6)
    assert torch.allclose(w, torch.tensor([1, 2, 3, 3, 2, 1]) / 3)
    assert len(triangular_weight(7)) == 7 and triangular_weight(7).max() == 1


@pytest.mark.parametrize("length,segment,overlap,batch", [(10_000, 1_000, 0.25, 3), (10_001, 777, 0.5, 1),
                                                           (500, 1_000, 0.0, 2), (4_321, 1_000, 0.0, 4)])
def test_identity_overlap_add_reconstructs_input(length: int, segment: int, overlap: float, batch: int) -> None:
    mix = torch.randn(2, length, generator=torch.Generator().manual_seed(1))
    out = overlap_add(identity, mix, 4, segment, overlap, batch)
    assert out.shape == (4, 2, length)
    torch.testing.assert_close(out, mix.expand(4, -1, -1), rtol=1e-5, atol=1e-6)


def test_batching_does_not_change_output() -> None:
    torch.manual_seed(0)
    model = SCNet(**TINY).eval()
    mix = torch.randn(2, 30_000, generator=torch.Generator().manual_seed(2)) * 0.1
    fn = lambda b: model(b)  # noqa: E731
    with torch.no_grad():
        one = overlap_add(fn, mix, 4, 8_000, 0.25, 1)
        many = overlap_add(fn, mix, 4, 8_000, 0.25, 4)
    torch.testing.assert_close(one, many, rtol=1e-4, atol=1e-6)


def test_single_chunk_equals_unchunked_and_chunks_follow_the_official_scheme() -> None:
    """One chunk = the plain forward pass; several chunks = the hand-made official cross-fade.

    SCNet sees the whole chunk (rfft and LSTMs along time), so a chunked output is not the whole-track
    output: what must hold is that every chunk is the model applied to the right window (the short last
    chunk centred in a full window with real audio before it) and the triangular weights are normalised.
    """
    torch.manual_seed(0)
    model = SCNet(**TINY).eval()
    mix = torch.randn(2, 20_000, generator=torch.Generator().manual_seed(3)) * 0.1
    fn = lambda b: model(b)  # noqa: E731
    with torch.no_grad():
        whole = model(mix[None])[0]
        single = overlap_add(fn, mix, 4, 20_000, 0.0, 2)  # one chunk
        chunked = overlap_add(fn, mix, 4, 8_000, 0.5, 3)
        # by hand: offsets 0, 4000, ..., 16000; the last chunk (4000 samples) sits in window [14000, 22000)
        weight = triangular_weight(8_000)
        total = torch.zeros(4, 2, 20_000)
        norm = torch.zeros(20_000)
        for offset in range(0, 20_000, 4_000):
            length = min(8_000, 20_000 - offset)
            start = offset - (8_000 - length) // 2
            window = torch.nn.functional.pad(mix[:, start:start + 8_000], (0, start + 8_000 - min(20_000, start + 8_000)))
            out = model(window[None])[0][..., offset - start:offset - start + length]
            total[..., offset:offset + length] += weight[:length] * out
            norm[offset:offset + length] += weight[:length]
    torch.testing.assert_close(single, whole, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(chunked, total / norm, rtol=1e-4, atol=1e-6)


def test_separate_track_maps_scnet_order_and_undoes_normalisation() -> None:
    rng = np.random.default_rng(0)
    mix = (rng.normal(0.05, 0.3, size=(2, 9_000))).astype(np.float32)
    out = separate_track(Tagged(), mix, ApplySettings(segment_s=0.05, overlap=0.25, device="cpu"))
    assert out.shape == (4, 2, 9_000)
    mean = mix.mean(0).mean()
    std = mix.mean(0).std(ddof=1)
    for name, stem in zip(STEMS, out):
        gain = SCNET_ORDER.index(name) + 1
        # normalised input times gain, de-normalised: (x - m) / s * g * s + m
        np.testing.assert_allclose(stem, (mix - mean) * gain + mean, rtol=1e-4, atol=1e-5)


def test_silent_input_is_finite() -> None:
    out = separate_track(Tagged(), np.zeros((2, 3_000), np.float32), ApplySettings(segment_s=0.05, device="cpu"))
    assert np.all(out == 0)


def test_shifts_are_seeded_and_identity_survives_them() -> None:
    mix = torch.randn(2, 60_000, generator=torch.Generator().manual_seed(4))
    a = apply_separator(identity, mix, 4, ApplySettings(segment_s=0.3, shifts=2, seed=1))
    torch.testing.assert_close(a, mix.expand(4, -1, -1), rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    model = SCNet(**TINY).eval()
    fn = lambda b: model(b)  # noqa: E731
    with torch.no_grad():
        x = apply_separator(fn, mix[:, :20_000], 4, ApplySettings(segment_s=0.2, shifts=2, seed=1))
        y = apply_separator(fn, mix[:, :20_000], 4, ApplySettings(segment_s=0.2, shifts=2, seed=1))
    torch.testing.assert_close(x, y)


def test_stem_order_round_trip() -> None:
    scnet = np.arange(4)[:, None] * np.ones((4, 3))  # row k = SCNET_ORDER[k]
    ours = from_scnet_order(scnet)
    assert [SCNET_ORDER[int(row[0])] for row in ours] == list(STEMS)
    np.testing.assert_array_equal(to_scnet_order(ours), scnet)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ApplySettings(overlap=1.0)
    with pytest.raises(ValueError, match="transition_power"):
        ApplySettings(transition_power=0.5)
