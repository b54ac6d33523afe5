"""A loaded encoder conditions each window on its own samples' features at inference, as in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mixrep.features.columns import feature_columns
from mixrep.features.extract import extract_features, extract_window_features
from mixrep.pretrain import load_encoder
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.data import FeatureStats
from mixrep.pretrain.train import save_encoder
from mixrep.pretrain.windows import view_windows
from mixrep.runs import FAMILIES
from mixrep.stems import SAMPLE_RATE

TINY = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                               "patch_frames": 8, "dropout": 0.0}},
        "segment_frames": 24, "cond_hidden": 16}


def _encoder(tmp_path, run: str):
    settings = PretrainSettings.from_config({"pretrain": TINY})
    columns = {family: [c for c in feature_columns() if c.startswith(f"{family}.")] for family in FAMILIES}
    rng = np.random.default_rng(1)
    stats = FeatureStats(columns, {k: rng.normal(size=len(v)) for k, v in columns.items()},
                         {k: rng.uniform(1.0, 3.0, size=len(v)) for k, v in columns.items()})
    model = build_model(run, settings, stats.dims, seed=3)
    with torch.no_grad():  # FiLM starts as the identity: random weights make the conditioning matter
        generator = torch.Generator().manual_seed(4)
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    path = save_encoder(tmp_path / f"{run}.pt", run, model, stats, settings, {})
    return load_encoder(path, "cpu")


@pytest.fixture(scope="module")
def stems():
    rng = np.random.default_rng(0)
    audio = 0.1 * rng.standard_normal((2, 4, 2, int(0.5 * SAMPLE_RATE))).astype(np.float32)
    audio[0, 0, :, : audio.shape[-1] // 2] *= 8.0  # vocals loud in the first half only: windows differ
    return audio


def test_each_window_is_conditioned_on_its_own_samples(tmp_path, stems):
    bundle = _encoder(tmp_path, "film-all")
    z = bundle.embed_stems_by_window(stems)
    config, length = bundle.frontend.config, bundle.meta.segment_frames
    windows = view_windows(stems.shape[-1], length, config.hop_length, config.n_fft)
    assert len(windows) >= 3
    for b, item in enumerate(stems):
        rows = [extract_window_features(item[..., w.sample_start:w.sample_stop], SAMPLE_RATE) for w in windows]
        assert rows[0]["dynamics.vocals.rms_db"] > rows[-1]["dynamics.vocals.rms_db"] + 10.0 or b == 1
        with torch.inference_mode():
            mels = bundle.frontend(torch.from_numpy(item)[None])[0]
            views = torch.stack([mels[..., w.frame_start:w.frame_start + length] for w in windows])
            expected = bundle.model(views, bundle.standardise(rows, len(rows))).mean(dim=0).numpy()
        np.testing.assert_allclose(z[b], expected, rtol=1e-5, atol=1e-6)
    # item-level conditioning (one row for every window) is a different embedding of the same audio
    item_rows = [extract_features(item, SAMPLE_RATE) for item in stems]
    assert not np.allclose(z, bundle.embed_stems(stems, item_rows), atol=1e-4)


def test_an_unconditioned_encoder_needs_no_features(tmp_path, stems):
    bundle = _encoder(tmp_path, "none")
    np.testing.assert_allclose(bundle.embed_stems_by_window(stems), bundle.embed_stems(stems), rtol=1e-6)


def test_too_short_an_input_is_refused(tmp_path):
    bundle = _encoder(tmp_path, "film-all")
    with pytest.raises(ValueError, match="shorter than one segment"):
        bundle.embed_stems_by_window(np.zeros((1, 4, 2, 1000), dtype=np.float32))
