"""Embedding functions for the ST-ITO objective: the trained stem-aware encoder, or an audio-feature stand-in.

Both map a batch of stems (B, 4, 2, N) to embeddings (B, D). The feature stand-in (per-stem band and side
energies) needs no trained model: it makes the stage runnable and testable before pretraining exists and is
the reference the encoder's transfer can be compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mixrep.errors import InputError
from mixrep.signal.stereo import mid_side
from mixrep.stems import SAMPLE_RATE

EmbedFn = Callable[[np.ndarray], np.ndarray]
BAND_EDGES_HZ = (150.0, 600.0, 2500.0, 8000.0)


def feature_embed_fn(sample_rate: int = SAMPLE_RATE) -> EmbedFn:
    """Per stem: RMS of the mid signal in 5 bands and RMS of the side signal -> (B, 24), deterministic.

    Band energies come from one real FFT per stem (Parseval: the power of the bins in a band is the energy
    of the ideally band-passed signal), which is ~10x faster than a filter bank and just as deterministic.
    """
    edges = np.array([0.0, *BAND_EDGES_HZ, sample_rate / 2.0 + 1.0])

    def embed(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float64)
        if batch.ndim != 4 or batch.shape[1:3] != (4, 2):
            raise ValueError(f"expected stems (B, 4, 2, N), got {batch.shape}")
        n = batch.shape[-1]
        mid, side = mid_side(batch)  # B, 4, N each
        power = np.abs(np.fft.rfft(mid, axis=-1)) ** 2  # B, 4, F
        power[..., 1:(n + 1) // 2] *= 2.0  # one-sided spectrum: count the negative frequencies
        freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
        band = np.digitize(freqs, edges[1:-1])  # 0..len(BAND_EDGES_HZ)
        energies = np.stack([power[..., band == k].sum(axis=-1) for k in range(len(edges) - 1)], axis=-1)
        bands = np.sqrt(energies / (n * n))  # RMS per band: sum|X|^2 / N^2 = mean x^2
        side_rms = np.sqrt(np.mean(side ** 2, axis=-1))[..., None]
        return np.concatenate([bands, side_rms], axis=-1).reshape(batch.shape[0], -1)  # B, 4 * 6

    return embed


def encoder_embed_fn(encoder_path: str | Path, device: str = "cpu", feature_settings: dict[str, Any] | None = None,
                     sample_rate: int = SAMPLE_RATE, batch_size: int = 16) -> EmbedFn:
    """The pretrained encoder of one ablation cell (`mixrep.pretrain.load_encoder`).

    A feature-conditioned encoder conditions each of its windows on the structured features of that window's
    own samples, as in training (`EncoderBundle.embed_stems_by_window`, with the same `features` settings
    the training tables used).
    """
    from mixrep.pretrain import load_encoder

    path = Path(encoder_path)
    if not path.is_file():
        raise InputError(path, "no such file (the encoder checkpoint; run the pretrain rule first)")
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the encoder takes {SAMPLE_RATE} Hz stems, got {sample_rate}")
    bundle = load_encoder(str(path), device)

    def embed(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if bundle.feature_names:
            return np.asarray(bundle.embed_stems_by_window(batch, feature_settings), dtype=np.float64)
        return np.asarray(bundle.embed_stems(batch, None, batch_size=batch_size), dtype=np.float64)

    embed.min_samples = bundle.min_samples  # type: ignore[attr-defined]
    return embed
