"""Pretraining data: mel store round trip, segment draws, batch grouping, feature standardisation, items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixrep.model.frontend import MelSettings
from mixrep.pretrain.data import (epoch_batches, fit_feature_stats, gather_segments, item_features,
                                  prepare_items, sample_pair_starts, window_starts)
from mixrep.pretrain.mels import build_mel_shard, centre_crop, concat_shards, load_mel_bank, load_mel_shard
from fixtures.toy_corpus import make_toy_corpus


def variants(n_tracks: int, n_variants: int, samples: int):
    rng = np.random.default_rng(0)
    for t in range(n_tracks):
        for v in range(n_variants):
            yield f"t{t}", v, (rng.standard_normal((4, 2, samples)) * 0.1).astype(np.float32)


def test_mel_store_round_trip_and_concat(tmp_path) -> None:
    shard = build_mel_shard(variants(2, 3, 4096), MelSettings(), max_s=None)
    assert shard.mels.dtype == np.float16 and shard.mels.shape[:3] == (4, 2, 128)
    assert list(shard.num_frames) == [1 + 4096 // 256] * 6
    loaded = load_mel_shard(shard.save(tmp_path / "shard-000.npz"))
    np.testing.assert_array_equal(loaded.mels, shard.mels)
    assert list(loaded.track_id) == ["t0"] * 3 + ["t1"] * 3 and list(loaded.variant_id) == [0, 1, 2] * 2
    other = build_mel_shard(variants(1, 2, 2048), MelSettings(), max_s=None)
    other.save(tmp_path / "shard-001.npz")
    paths = [tmp_path / "shard-000.npz", tmp_path / "shard-001.npz"]
    for both in (concat_shards([loaded, other]), load_mel_bank(paths)):
        assert len(both) == 8 and list(both.num_frames) == [17] * 6 + [9] * 2
        np.testing.assert_array_equal(both.item(7), other.item(1))
        np.testing.assert_array_equal(both.item(2), shard.item(2))


def test_crop_keeps_the_middle() -> None:
    stems = np.arange(10, dtype=np.float32)[None, None].repeat(4, 0).repeat(2, 1)
    assert centre_crop(stems, 4)[0, 0].tolist() == [3, 4, 5, 6]
    assert centre_crop(stems, None).shape[-1] == 10
    shard = build_mel_shard(variants(1, 1, 44100), MelSettings(), max_s=0.5)
    assert shard.num_frames[0] == 1 + 22050 // 256


def test_bad_mel_store_is_named(tmp_path) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, mels=np.zeros(3))
    with pytest.raises(ValueError, match="x.npz.*missing keys"):
        load_mel_shard(path)


def test_pair_starts_are_valid_and_disjoint() -> None:
    rng = np.random.default_rng(0)
    frames = np.array([300] * 500 + [40] * 20)
    first, second = sample_pair_starts(frames, 32, rng)
    assert (first >= 0).all() and (second >= 0).all()
    assert (first + 32 <= frames).all() and (second + 32 <= frames).all()
    long = frames == 300
    assert (np.abs(first[long] - second[long]) >= 32).all()
    # both sides of the first segment are used
    assert (second[long] < first[long]).any() and (second[long] > first[long]).any()


def test_epoch_batches_group_variants_and_are_deterministic() -> None:
    tracks = np.repeat(np.arange(10), 6)  # 10 tracks x 6 variants
    batches = epoch_batches(tracks, seed=3, epoch=0, batch_size=12, group_size=3)
    assert batches.shape == (5, 12)
    assert len(np.unique(batches)) == 60  # every item once
    for batch in batches:
        for lo in range(0, 12, 3):  # groups of 3 items of the same track
            assert len(set(tracks[batch[lo:lo + 3]])) == 1
    np.testing.assert_array_equal(batches, epoch_batches(tracks, 3, 0, 12, 3))
    assert not np.array_equal(batches, epoch_batches(tracks, 3, 1, 12, 3))


def test_gather_segments_reads_the_right_frames() -> None:
    shard = build_mel_shard(variants(1, 2, 8192), MelSettings(), max_s=None)
    segments = gather_segments(shard, np.array([1, 0]), np.array([5, 0]), 8).numpy()
    assert segments.shape == (2, 4, 2, 128, 8) and segments.dtype == np.float32
    np.testing.assert_array_equal(segments[0], shard.item(1)[..., 5:13].astype(np.float32))
    np.testing.assert_array_equal(segments[1], shard.item(0)[..., :8].astype(np.float32))


def test_window_starts_cover_the_item() -> None:
    assert window_starts(100, 32).tolist() == [0, 32, 64]
    assert window_starts(120, 32).tolist() == [0, 32, 64, 88]
    assert window_starts(32, 32).tolist() == [0]


def test_feature_stats_use_the_train_split_only() -> None:
    table = pd.DataFrame({"track_id": ["a", "b", "c"], "variant_id": [0, 0, 0], "segment": 0,
                          "dynamics.mix.x": [1.0, 3.0, 100.0], "stereo.mix.w": [2.0, 2.0, np.nan]})
    stats = fit_feature_stats(table, ["dynamics", "stereo"], {"a", "b"})
    assert stats.mean["dynamics"].tolist() == [2.0] and stats.std["dynamics"].tolist() == [1.0]
    assert stats.std["stereo"].tolist() == [1.0]  # constant column: std 1, not 0
    out = stats.transform(table)
    assert out["dynamics"][:, 0].tolist() == [-1.0, 1.0, 98.0]
    assert out["stereo"][:, 0].tolist() == [0.0, 0.0, 0.0]  # missing -> 0 (the mean)
    with pytest.raises(ValueError, match="no columns for families"):
        fit_feature_stats(table, ["masking"], {"a"})


def test_item_features_takes_segment_zero() -> None:
    table = pd.DataFrame({"track_id": ["a", "a", "a"], "variant_id": [0, 0, 1], "segment": [1, 0, 0],
                          "dynamics.mix.x": [5.0, 7.0, 9.0]})
    rows = item_features(table)
    assert rows["dynamics.mix.x"].tolist() == [7.0, 9.0]


def test_prepare_items_lists_what_it_leaves_out() -> None:
    corpus = make_toy_corpus(n_tracks=5, n_variants=2, seconds=0.5, seed=1)
    features = corpus.features[~((corpus.features.track_id == "toy-001") & (corpus.features.variant_id == 1))]
    manifest = corpus.manifest[corpus.manifest.track_id != "toy-004"]
    items, stats = prepare_items(corpus.bank, features, manifest, ["dynamics", "masking"], segment_frames=16)
    reasons = {(r["track_id"], r["variant_id"]): r["reason"] for r in items.skipped}
    assert set(reasons) == {("toy-001", 1), ("toy-004", 0), ("toy-004", 1)}
    assert "features" in reasons[("toy-001", 1)] and "manifest" in reasons[("toy-004", 0)]
    assert len(items) == 7 and set(items.features) == {"dynamics", "masking"}
    assert items.features["dynamics"].shape == (7, 8)
    train = items.of_split("train")
    assert abs(float(train.features["dynamics"].mean())) < 0.3  # standardised on (most of) these rows
    too_long, _ = prepare_items(corpus.bank, corpus.features, corpus.manifest, ["stereo"], segment_frames=1000)
    assert len(too_long) == 0 and all("Mel frames" in r["reason"] for r in too_long.skipped)
