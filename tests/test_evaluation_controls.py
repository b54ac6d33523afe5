"""Controls are measured on exactly the windows the cells are: features-only, levels, audio-only, views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.controls import AudioOnly, FeaturesOnly, LevelStats, build_control
from mixrep.pretrain.embed import embed_items, embed_views, view_positions, views_path, write_views

from test_pretrain_views import SETTINGS, corpus  # noqa: F401  (the module-scoped analysed corpus fixture)


def test_levels_are_the_mean_log_mel_per_stem_and_channel():
    mels = torch.arange(2 * 4 * 2 * 3 * 5, dtype=torch.float32).reshape(2, 4, 2, 3, 5)
    out = LevelStats()(mels)
    assert out.shape == (2, 8)
    # item 1, stem 2 (drums), channel 1 (side): the mean of its 3 x 5 block, by hand
    block = mels[1, 2, 1]
    assert out[1, 2 * 2 + 1].item() == pytest.approx(float(block.sum()) / 15)


def test_features_only_is_the_windows_own_standardised_features(corpus):
    bank, items, stats, _ = corpus
    control = build_control("features-only", stats.families)
    positions, rows_a, _ = view_positions(items, ("val",))
    z = FeaturesOnly(stats.families)(torch.zeros(len(rows_a), 4, 2, 1, 1),
                                     {k: torch.from_numpy(v[rows_a]) for k, v in items.seg_features.items()})
    expected = np.concatenate([items.seg_features[name][rows_a] for name in stats.families], axis=1)
    assert np.allclose(z.numpy(), expected)
    assert z.shape[1] == sum(stats.dims.values()) and isinstance(control, FeaturesOnly)


def test_audio_only_is_the_cell_with_zeroed_features(corpus):
    bank, items, stats, _ = corpus
    settings = PretrainSettings.from_config(SETTINGS)
    model = build_model("film-all", settings, stats.dims, 0).eval()
    with torch.no_grad():  # a random FiLM head is near identity: push it so the features matter
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    mels = torch.randn(3, 4, 2, 128, 32)
    features = {k: torch.randn(3, d) for k, d in stats.dims.items()}
    zeros = {k: torch.zeros(3, d) for k, d in stats.dims.items()}
    with torch.no_grad():
        audio_only = AudioOnly(model)(mels, features)
        assert torch.allclose(audio_only, model(mels, zeros))
        assert not torch.allclose(audio_only, model(mels, features), atol=1e-4)


def test_views_are_the_same_windows_for_every_source_and_pair_row_by_row(corpus, tmp_path):
    bank, items, stats, _ = corpus
    settings = PretrainSettings.from_config(SETTINGS)
    first = view_positions(items)
    again = view_positions(items)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    positions, rows_a, rows_b = first
    assert set(items.split[positions]) == {"val"}  # the fixture holds train + val tracks
    counts = np.diff(items.seg_offsets)[positions]
    assert np.all((rows_a != rows_b) | (counts == 1))
    device = torch.device("cpu")
    levels = LevelStats()
    pos, za, zb = embed_views(levels, bank, items, 32, device)
    # a view of the levels control is the level of exactly that window's Mel frames
    k = 0
    mel = bank.segments(items.mel_index[pos[:1]], items.seg_starts[rows_a[:1]], 32)
    assert np.allclose(za[k], mel.float().mean(dim=(3, 4)).reshape(-1).numpy(), atol=1e-5)
    path = write_views(views_path(tmp_path / "seed0.parquet"), items, pos, za, zb, {"run": "levels"})
    assert path.name == "seed0.views.parquet"
    table = pd.read_parquet(path)
    assert len(table) == 2 * len(pos) and set(table["view"]) == {0, 1}
    v0, v1 = table[table["view"] == 0], table[table["view"] == 1]
    assert v0[["track_id", "variant_id"]].values.tolist() == v1[["track_id", "variant_id"]].values.tolist()
    model = build_model("none", settings, {}, 0).eval()
    pos2, _, _ = embed_views(model, bank, items, 32, device)
    assert np.array_equal(pos, pos2)
    items_z = embed_items(levels, bank, items, 32, device)
    assert items_z.shape == (len(items), 8)
