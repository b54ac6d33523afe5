"""Controls are measured on exactly the windows the cells are: features-only, levels, audio-only, views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mixrep.analyse.outputs import read_segment_table, write_analysis
from mixrep.analyse.settings import AnalyseSettings
from mixrep.analyse.shard import analyse_shard
from mixrep.audio import write_stems
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.controls import AudioOnly, FeaturesOnly, LevelStats, build_control
from mixrep.pretrain.data import prepare_items
from mixrep.pretrain.embed import embed_items, embed_views, view_positions, views_path, write_views
from mixrep.pretrain.mels import MelStore
from mixrep.runs import FAMILIES
from mixrep.stems import SAMPLE_RATE

PRETRAIN = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                                   "patch_frames": 8, "dropout": 0.0}},
            "mel_max_s": 1.0, "segment_frames": 32, "batch_size": 4, "group_size": 2, "epochs": 1,
            "warmup_steps": 1, "cond_hidden": 16, "checkpoint_every": 100, "device": "cpu"}
SETTINGS = {"seed": 1, "shard_size": 8, "features": {"n_mels": 32}, "degrade": {"variants_per_track": 2},
            "pretrain": PRETRAIN, "analysis": {"excerpt_s": 1.5}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    rows, manifest = [], []
    for k in range(5):
        track_id = f"syn-rock-{k}"
        rng = np.random.default_rng(10 + k)
        t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
        stems = (0.05 * (1.1 + np.sin(2 * np.pi * t * (1 + k)))[None, None] *
                 rng.standard_normal((4, 2, t.size))).astype(np.float32)
        write_stems(root / track_id, stems)
        rows.append({"track_id": track_id, "stem_dir": str(root / track_id), "method": "oracle",
                     "num_samples": t.size})
        manifest.append({"track_id": track_id, "split": "train" if k < 3 else "test", "genre": "rock",
                         "status": "ok"})
    pd.DataFrame(rows).to_parquet(root / "index.parquet", index=False)
    settings = AnalyseSettings.from_settings(SETTINGS)
    out = {name: root / name for name in ("r.parquet", "r.csv", "f.parquet", "f.csv", "seg.parquet", "m.npz")}
    write_analysis(analyse_shard(root / "index.parquet", settings), settings.pretrain,
                   recipes=out["r.parquet"], rejected=out["r.csv"], features=out["f.parquet"],
                   features_rejected=out["f.csv"], segments=out["seg.parquet"], mels=out["m.npz"])
    bank = MelStore([out["m.npz"]])
    items, stats = prepare_items(bank, pd.read_parquet(out["f.parquet"]), pd.DataFrame(manifest), FAMILIES, 32,
                                 read_segment_table(out["seg.parquet"]))
    return bank, items, stats, root


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
    positions, rows_a, _ = view_positions(items, ("test",))
    z = FeaturesOnly(stats.families)(torch.zeros(len(rows_a), 4, 2, 1, 1),
                                     {k: torch.from_numpy(v[rows_a]) for k, v in items.seg_features.items()})
    expected = np.concatenate([items.seg_features[name][rows_a] for name in stats.families], axis=1)
    assert np.allclose(z.numpy(), expected)
    assert z.shape[1] == sum(stats.dims.values()) and isinstance(control, FeaturesOnly)


def test_audio_only_is_the_cell_with_zeroed_features(corpus):
    bank, items, stats, _ = corpus
    settings = PretrainSettings.from_settings(SETTINGS)
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
    settings = PretrainSettings.from_settings(SETTINGS)
    first = view_positions(items)
    again = view_positions(items)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    positions, rows_a, rows_b = first
    assert set(items.split[positions]) == {"test"}
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
