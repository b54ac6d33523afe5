"""The Stage 1 commands end to end on a toy corpus: mels, pretrain, embed, embed --random-init, load_encoder."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mixrep.audio import write_stems
from mixrep.model.frontend import MelFrontend
from mixrep.pretrain import load_encoder
from mixrep.pretrain.cli import embed_main, mels_main, pretrain_main
from mixrep.pretrain.mels import load_mel_shard
from fixtures.toy_corpus import make_toy_corpus

SETTINGS = {"seed": 0, "pretrain": {
    "preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2, "patch_frames": 8}},
    "mel_max_s": None, "segment_frames": 24, "batch_size": 4, "group_size": 2, "epochs": 2, "warmup_steps": 2,
    "cond_hidden": 16, "checkpoint_every": 3, "eval_every": 1}}


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    corpus = make_toy_corpus(n_tracks=8, n_variants=3, seconds=0.6, seed=4, keep_stems=True)
    corpus.bank.save(root / "shard-000.npz")
    corpus.features.to_parquet(root / "features.parquet")
    corpus.manifest.to_parquet(root / "manifest.parquet")
    return root, corpus


@pytest.fixture(scope="module")
def trained(corpus_files):
    root, _ = corpus_files
    out = root / "pretrain" / "film-no_masking" / "seed0"
    code = pretrain_main(["--mels", str(root / "shard-000.npz"), "--features", str(root / "features.parquet"),
                          "--manifest", str(root / "manifest.parquet"), "--run", "film-no_masking", "--seed", "0",
                          "--checkpoint", str(out / "encoder.pt"), "--log-csv", str(out / "log.csv"),
                          "--plot", str(out / "loss.png"), "--metrics", str(out / "metrics.json"),
                          "--device", "cpu", "--settings", json.dumps(SETTINGS)])
    assert code == 0
    return out


def test_pretrain_outputs(trained) -> None:
    metrics = json.loads((trained / "metrics.json").read_text())
    for model in ("trained", "random_init"):
        for split in ("val", "test"):
            scores = metrics["retrieval"][model][split]
            assert 0.0 <= scores["top1"] <= 1.0 and scores["n_items"] == {"val": 6, "test": 3}[split]
    assert metrics["settings"]["families"] == ["dynamics", "spectral", "stereo"]
    assert metrics["items"] == {"train": 15, "val": 6, "test": 3}  # 5 / 2 / 1 tracks x 3 variants
    assert metrics["steps"] == 2 * (15 // 4)
    rows = list(csv.DictReader((trained / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["loss"]) > 0 and r["val_top1"] != "" for r in rows)
    assert (trained / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert not (trained / "checkpoints").exists()  # the resume state is removed after success


def test_embed_parquet_schema(corpus_files, trained) -> None:
    root, corpus = corpus_files
    out = root / "embed" / "film-no_masking" / "seed0.parquet"
    assert embed_main(["--checkpoint", str(trained / "encoder.pt"), "--mels", str(root / "shard-000.npz"),
                       "--features", str(root / "features.parquet"), "--manifest", str(root / "manifest.parquet"),
                       "--seed", "0", "--out", str(out), "--device", "cpu", "--settings", json.dumps(SETTINGS)]) == 0
    table = pq.read_table(out)
    assert table.schema.names == ["track_id", "variant_id", "split", "genre", "embedding"]
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 64)
    assert table.schema.field("variant_id").type == pa.int64()
    frame = table.to_pandas()
    assert frame[["track_id", "variant_id"]].duplicated().sum() == 0
    assert set(frame.split) == {"train", "val", "test"}
    # every held-out item, and of the train tracks only their reference remix (what evaluation + bundle read)
    train = frame[frame.split == "train"]
    assert (train.variant_id == 0).all() and train.track_id.nunique() == len(train)
    manifest = pd.read_parquet(root / "manifest.parquet")
    held_out_tracks = manifest.loc[manifest.split != "train", "track_id"]
    assert len(frame) - len(train) == 24 * len(held_out_tracks) // len(manifest)
    assert np.isfinite(np.stack(frame.embedding)).all()
    assert table.schema.metadata[b"run"] == b"film-no_masking"


def test_embed_random_init(corpus_files) -> None:
    root, _ = corpus_files
    paths = [root / "embed" / "random-init" / f"seed{s}.parquet" for s in (0, 0, 1)]
    for path, seed in zip(paths, (0, 0, 1)):
        target = path if seed == 1 or not path.exists() else path.with_name("again.parquet")
        assert embed_main(["--random-init", "film-all", "--mels", str(root / "shard-000.npz"),
                           "--features", str(root / "features.parquet"), "--manifest", str(root / "manifest.parquet"),
                           "--seed", str(seed), "--out", str(target), "--device", "cpu", "--settings", json.dumps(SETTINGS)]) == 0
    first = pq.read_table(paths[0]).to_pandas()
    again = pq.read_table(paths[0].with_name("again.parquet")).to_pandas()
    other = pq.read_table(paths[2]).to_pandas()
    assert np.array_equal(np.stack(first.embedding), np.stack(again.embedding))  # deterministic in the seed
    assert not np.allclose(np.stack(first.embedding), np.stack(other.embedding))
    assert pq.read_table(paths[0]).schema.metadata[b"run"] == b"random-init"


def test_load_encoder_embeds_raw_stems(corpus_files, trained) -> None:
    root, corpus = corpus_files
    bundle = load_encoder(trained / "encoder.pt", device="cpu")
    assert bundle.run == "film-no_masking" and bundle.families == ("dynamics", "spectral", "stereo")
    assert bundle.embedding_dim == 64 and all(not n.startswith("masking.") for n in bundle.feature_names)
    keys = [("toy-006", 0), ("toy-006", 2)]
    stems = np.stack([corpus.stems[k] for k in keys])
    rows = [corpus.features.set_index(["track_id", "variant_id"]).loc[k].to_dict() for k in keys]
    z = bundle.embed_stems(stems, rows)
    assert z.shape == (2, 64) and z.dtype == np.float32
    # the same as the embed parquet (which reads float16 mels of the same audio)
    frame = pq.read_table(root / "embed" / "film-no_masking" / "seed0.parquet").to_pandas()
    stored = np.stack([frame[(frame.track_id == t) & (frame.variant_id == v)].embedding.iloc[0] for t, v in keys])
    cosine = (z * stored).sum(1) / np.linalg.norm(z, axis=1) / np.linalg.norm(stored, axis=1)
    assert (cosine > 0.999).all(), cosine
    # arrays in feature_names order give the same result; torch input too
    array = np.array([[row[n] for n in bundle.feature_names] for row in rows])
    np.testing.assert_allclose(bundle(torch.from_numpy(stems), array), z, rtol=1e-5, atol=1e-6)
    # a disabled family (masking) has no influence
    shifted = [{**row, **{k: v + 50 for k, v in row.items() if str(k).startswith("masking.")}} for row in rows]
    np.testing.assert_array_equal(bundle.embed_stems(stems, shifted), z)
    with pytest.raises(ValueError, match="pass their features"):
        bundle.embed_stems(stems)
    with pytest.raises(ValueError, match="shorter than one segment"):
        bundle.embed_stems(stems[..., :2000], rows)


def test_mels_command_renders_every_variant(tmp_path) -> None:
    rng = np.random.default_rng(0)
    stems = {f"t{i}": (rng.standard_normal((4, 2, 11025)) * 0.1).astype(np.float32) for i in range(2)}
    for track, audio in stems.items():
        write_stems(tmp_path / "stems" / track, audio)
    pd.DataFrame({"track_id": list(stems), "stem_dir": [str(tmp_path / "stems" / t) for t in stems],
                  "method": "oracle", "num_samples": 11025}).to_parquet(tmp_path / "index.parquet")
    pd.DataFrame({"track_id": ["t0", "t0", "t1"], "variant_id": [0, 1, 0], "effects": "[]",
                  "fault_types": "none", "severity": 0.0, "seed": 0}).to_parquet(tmp_path / "recipes.parquet")
    settings = {"pretrain": {"mel_max_s": 0.1}}
    assert mels_main(["--stems-index", str(tmp_path / "index.parquet"), "--recipes", str(tmp_path / "recipes.parquet"),
                      "--out", str(tmp_path / "shard-000.npz"), "--settings", json.dumps(settings)]) == 0
    shard = load_mel_shard(tmp_path / "shard-000.npz")
    assert list(zip(shard.track_id, shard.variant_id)) == [("t0", 0), ("t0", 1), ("t1", 0)]
    middle = stems["t1"][..., (11025 - 4410) // 2:][..., :4410]
    expected = MelFrontend()(torch.from_numpy(middle)[None])[0].numpy().astype(np.float16)
    np.testing.assert_array_equal(shard.item(2), expected)
    with pytest.raises(SystemExit, match="mels"):
        mels_main(["--stems-index", str(tmp_path / "index.parquet"), "--recipes", str(tmp_path / "nope.parquet"),
                   "--out", str(tmp_path / "x.npz")])


@pytest.mark.parametrize("argv", [
    ["pretrain", "--mels", "m.npz", "--features", "f.parquet", "--manifest", "x.parquet", "--run", "film-bogus",
     "--seed", "0", "--checkpoint", "e.pt", "--log-csv", "l.csv", "--plot", "p.png", "--metrics", "m.json"],
    ["embed", "--random-init", "film-bogus", "--mels", "m.npz", "--features", "f.parquet", "--manifest", "x.parquet",
     "--seed", "0", "--out", "o.parquet"],
])
def test_unknown_cell_is_one_line_listing_the_valid_cells(argv, capsys):
    from mixrep.cli import main
    from mixrep.runs import POSITIVES, grid

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"mixrep {argv[0]}: --") and "'film-bogus'" in err
    assert all(spec.name in err for spec in grid(positives=POSITIVES))
