"""Views of the workflow's pretraining: two distinct grid windows of one item, each with its own features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import mixrep.pretrain.train as train_module
from mixrep.analyse.outputs import read_segment_table, write_analysis
from mixrep.analyse.settings import AnalyseSettings
from mixrep.analyse.shard import analyse_shard
from mixrep.audio import write_stems
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.data import prepare_items, sample_pair_windows, window_starts
from mixrep.pretrain.embed import embed_items
from mixrep.pretrain.mels import MelStore
from mixrep.runs import FAMILIES
from mixrep.stems import SAMPLE_RATE

PRETRAIN = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                                   "patch_frames": 8, "dropout": 0.0}},
            "mel_max_s": 1.0, "segment_frames": 32, "batch_size": 4, "group_size": 2, "epochs": 1,
            "warmup_steps": 1, "cond_hidden": 16, "checkpoint_every": 100}
SETTINGS = {"seed": 1, "shard_size": 8, "features": {"n_mels": 32}, "degrade": {"variants_per_track": 2},
            "pretrain": PRETRAIN, "analysis": {"excerpt_s": 1.5}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    rows, manifest = [], []
    for k in range(6):
        track_id = f"syn-pop-{k}"
        rng = np.random.default_rng(k)
        t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
        stems = (0.05 * (1.1 + np.sin(2 * np.pi * t * (1 + k)))[None, None] *
                 rng.standard_normal((4, 2, t.size))).astype(np.float32)
        write_stems(root / track_id, stems)
        rows.append({"track_id": track_id, "stem_dir": str(root / track_id), "method": "oracle",
                     "num_samples": t.size})
        manifest.append({"track_id": track_id, "split": "train" if k < 4 else "val", "genre": "pop", "status": "ok"})
    pd.DataFrame(rows).to_parquet(root / "index.parquet", index=False)
    settings = AnalyseSettings.from_config(SETTINGS)
    out = {name: root / name for name in ("recipes.parquet", "rejected.csv", "f.parquet", "f.csv", "seg.parquet",
                                         "m.npz")}
    write_analysis(analyse_shard(root / "index.parquet", settings), settings.pretrain,
                   recipes=out["recipes.parquet"], rejected=out["rejected.csv"], features=out["f.parquet"],
                   features_rejected=out["f.csv"], segments=out["seg.parquet"], mels=out["m.npz"])
    bank = MelStore([out["m.npz"]])
    segments = read_segment_table(out["seg.parquet"])
    items, stats = prepare_items(bank, pd.read_parquet(out["f.parquet"]), pd.DataFrame(manifest), FAMILIES, 32,
                                 segments)
    return bank, items, stats, segments


def test_items_carry_their_grid_windows(corpus):
    bank, items, stats, segments = corpus
    assert items.has_segments and len(items) == 18
    for k in range(len(items)):
        rows = slice(items.seg_offsets[k], items.seg_offsets[k + 1])
        assert np.array_equal(items.seg_starts[rows], window_starts(int(items.num_frames[k]), 32))
    # standardised with the per-segment table's train statistics; undefined (NaN) loudness -> 0
    name = "dynamics.mix.st_loudness_max_lufs"
    column = stats.columns["dynamics"].index(name)
    assert segments[name].isna().all() and np.all(items.seg_features["dynamics"][:, column] == 0)


def test_pair_draws_are_distinct_windows_and_deterministic():
    counts = np.array([1, 2, 5, 5, 4] * 20)
    a, b = sample_pair_windows(counts, np.random.default_rng([0, 1, 2]))
    a2, b2 = sample_pair_windows(counts, np.random.default_rng([0, 1, 2]))
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert np.all((a >= 0) & (a < counts) & (b >= 0) & (b < counts))
    assert np.all((a != b) | (counts == 1))
    assert len({(x, y) for x, y, n in zip(a, b, counts) if n == 5}) > 5  # not always the same pair


def test_a_training_batch_has_two_windows_of_each_item_with_their_own_features(corpus, tmp_path, monkeypatch):
    bank, items, stats, segments = corpus
    seen = []
    real_gather, real_to_device = train_module.gather_segments, train_module.to_device

    def to_device(features, positions, device):  # the step picks its views' features, then reads their Mels
        seen.append({"features": {k: v[positions].copy() for k, v in features.items()}})
        return real_to_device(features, positions, device)

    def gather(source, mel_index, starts, length):
        seen[-1].update(mel_index=np.asarray(mel_index).copy(), starts=np.asarray(starts).copy())
        return real_gather(source, mel_index, starts, length)

    monkeypatch.setattr(train_module, "gather_segments", gather)
    monkeypatch.setattr(train_module, "to_device", to_device)
    settings = PretrainSettings.from_config({"pretrain": PRETRAIN})
    train_module.train_encoder("film-all", 0, bank, items, stats, settings, tmp_path, torch.device("cpu"),
                               log_print=lambda _: None)
    batches = [b for b in seen if "starts" in b]
    assert batches
    keyed = segments.set_index(["track_id", "variant_id", "frame_start"])
    for batch in batches:
        half = len(batch["mel_index"]) // 2
        assert np.array_equal(batch["mel_index"][:half], batch["mel_index"][half:])  # same item
        assert np.all(batch["starts"][:half] != batch["starts"][half:])  # distinct windows
        for j, (mel, start) in enumerate(zip(batch["mel_index"], batch["starts"])):
            key = (str(bank.track_id[mel]), int(bank.variant_id[mel]), int(start))
            own = stats.transform(keyed.loc[[key]].reset_index())
            for family, values in batch["features"].items():
                np.testing.assert_array_equal(values[j], own[family][0])  # the view's own window's features
        assert any(not np.array_equal(batch["features"]["spectral"][j], batch["features"]["spectral"][j + half])
                   for j in range(half))


def test_embedding_conditions_each_window_on_its_own_features(corpus):
    bank, items, stats, _ = corpus
    settings = PretrainSettings.from_config({"pretrain": PRETRAIN})
    model = build_model("film-all", settings, stats.dims, 0).eval()
    torch.manual_seed(0)
    with torch.no_grad():  # FiLM starts as the identity: give the conditioner weights so that features matter
        for param in model.parameters():
            param.add_(0.2 * torch.randn_like(param))
    base = embed_items(model, bank, items, 32, torch.device("cpu"), 8)
    changed = items.subset(np.ones(len(items), dtype=bool))
    changed.seg_features = {k: v.copy() for k, v in items.seg_features.items()}
    changed.seg_features["spectral"][items.seg_offsets[3] + 1] += 3.0  # window 1 of item 3 only
    moved = embed_items(model, bank, changed, 32, torch.device("cpu"), 8)
    differs = np.abs(moved - base).max(axis=1) > 1e-6
    assert differs[3] and differs.sum() == 1
