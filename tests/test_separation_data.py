"""A toy multitrack corpus for the separation tests (generated in tmp_path), and tests of the sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.audio import write_audio
from mixrep.separation.data import SegmentSampler, index_stems
from mixrep.separation.scnet_entry import AugmentSettings
from mixrep.stems import SAMPLE_RATE, STEMS

SR = SAMPLE_RATE


def toy_stems(seconds: float, seed: int) -> np.ndarray:
    """(4, 2, N) STEMS-order stems with distinct timbres: harmonic lead, low saw, noise hits, chords."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = rng.uniform(300, 700)
    vocals = 0.3 * np.sin(2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 5 * t))
    fb = rng.uniform(45, 90)
    bass = 0.3 * (2 * ((fb * t) % 1.0) - 1)
    drums = np.zeros(n)
    for start in np.arange(0, n, int(SR * rng.uniform(0.2, 0.35))):
        length = min(4000, n - start)
        drums[start:start + length] += rng.normal(0, 0.5, length) * np.exp(-np.arange(length) / 600)
    other = sum(0.1 * np.sin(2 * np.pi * rng.uniform(200, 900) * t) for _ in range(3))
    pans = rng.uniform(0.3, 0.7, size=4)
    stems = np.stack([np.stack([(1 - p) * s, p * s]) for s, p in zip([vocals, bass, drums, other], pans)])
    return stems.astype(np.float32)


def make_corpus(root: Path, splits: dict[str, int], seconds: float = 3.0, shard_size: int = 2) -> dict:
    """Write mixtures and stems, a manifest.parquet and shards.json under root; return their paths."""
    rows = []
    index = 0
    for split, count in splits.items():
        for _ in range(count):
            track_id = f"toy-{index:03d}"
            folder = root / "tracks" / track_id
            stems = toy_stems(seconds, seed=index)
            for name, stem in zip(STEMS, stems):
                write_audio(folder / f"{name}.wav", stem)
            write_audio(folder / "mixture.wav", stems.sum(0))
            rows.append({"track_id": track_id, "source": "synthetic", "path": str(folder / "mixture.wav"),
                         "genre": "toy", "split": split, "duration_s": seconds, "sample_rate": SR,
                         "channels": 2, "status": "ok", "reason": "", "stems_dir": str(folder), "notes": ""})
            index += 1
    manifest = pd.DataFrame(rows).sort_values("track_id").reset_index(drop=True)
    ids = list(manifest["track_id"])
    shards = {f"shard-{k:03d}": ids[i:i + shard_size] for k, i in enumerate(range(0, len(ids), shard_size))}
    manifest["shard"] = [next(s for s, members in shards.items() if t in members) for t in ids]
    manifest.to_parquet(root / "manifest.parquet", index=False)
    (root / "shards.json").write_text(json.dumps(shards))
    return {"manifest": root / "manifest.parquet", "shards": root / "shards.json", "frame": manifest}


def test_sampler_is_seeded_and_bounded(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, {"train": 3}, seconds=1.0)
    tracks, rejected = index_stems(corpus["frame"], "train")
    assert len(tracks) == 3 and not rejected
    a = SegmentSampler(tracks, 4410, AugmentSettings(), seed=3).batch(2)
    b = SegmentSampler(tracks, 4410, AugmentSettings(), seed=3).batch(2)
    c = SegmentSampler(tracks, 4410, AugmentSettings(), seed=4).batch(2)
    assert a.shape == (2, 4, 2, 4410) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # gains in [0.25, 1.25]: no sample can exceed 1.25 x the loudest stem sample
    peak = max(np.abs(toy_stems(1.0, seed=i)).max() for i in range(3))
    assert np.abs(a).max() <= 1.25 * peak + 1e-6


def test_without_augmentation_examples_are_true_segments(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, {"train": 1}, seconds=1.0)
    tracks, _ = index_stems(corpus["frame"], "train")
    plain = AugmentSettings(remix=False, gain_min=1.0, gain_max=1.0, flip_channels=False, flip_sign=False)
    example = SegmentSampler(tracks, 1000, plain, seed=0).example()
    stems = toy_stems(1.0, seed=0)
    scnet_index = [STEMS.index(name) for name in ("drums", "bass", "other", "vocals")]
    # find the offset from the first source and check every source comes from the same place
    windows = np.lib.stride_tricks.sliding_window_view(stems[scnet_index[0], 0], 1000)
    offset = int(np.flatnonzero(np.all(np.abs(windows - example[0, 0]) < 1e-6, axis=1))[0])
    for k, i in enumerate(scnet_index):
        np.testing.assert_allclose(example[k], stems[i, :, offset:offset + 1000], atol=1e-6)


def test_tracks_without_stems_are_rejected_with_reason(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, {"train": 2}, seconds=0.5)
    frame = corpus["frame"].copy()
    frame.loc[0, "stems_dir"] = None
    (Path(frame.loc[1, "stems_dir"]) / "bass.wav").write_bytes(b"not audio")
    tracks, rejected = index_stems(frame, "train")
    assert tracks == []
    assert "stems_dir is null" in rejected[0].reason
    assert "bass.wav" in rejected[1].reason


def test_track_stats_marks_silent_sources_and_sampler_skips_them(tmp_path: Path) -> None:
    from mixrep.separation.train import track_stats

    corpus = make_corpus(tmp_path, {"train": 2}, seconds=0.5)
    frame = corpus["frame"]
    quiet_dir = Path(frame.loc[0, "stems_dir"])
    write_audio(quiet_dir / "vocals.wav", np.zeros((2, int(0.5 * SR)), dtype=np.float32))
    tracks, _ = index_stems(frame, "train")
    tracks = [track_stats(track) for track in tracks]
    order = ("drums", "bass", "other", "vocals")  # SCNet order, as index_stems reads the files
    assert tracks[0].active == (True, True, True, False)
    assert tracks[1].active == (True, True, True, True)
    assert tracks[0].scale > 0
    sampler = SegmentSampler(tracks, 1000, AugmentSettings(), seed=0)
    assert sampler.pools[order.index("vocals")] == [1]  # vocals only from the track that has them
    assert sampler.pools[order.index("bass")] == [0, 1]
    everyone = SegmentSampler(tracks, 1000, AugmentSettings(active_only=False), seed=0)
    assert everyone.pools[order.index("vocals")] == [0, 1]
