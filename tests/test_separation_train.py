"""Training lowers the loss; the train / separate / eval commands work end to end on a toy corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mixrep.audio import read_stems
from mixrep.separation.checkpoint import load_separator
from mixrep.separation.cli import eval_main, separate_main, train_main
from mixrep.separation.scnet import CPU_KWARGS, SCNet
from mixrep.separation.train import waveform_loss
from mixrep.stems import track_dirname
from test_separation_data import make_corpus, toy_stems

TINY = {"dims": [4, 8, 16, 32], "nfft": 1024, "hop_size": 256, "win_size": 1024, "conv_depths": [1, 1, 1],
        "num_dplayer": 2}


@pytest.mark.parametrize("loss", ["l1", "spec_rmse"])
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(loss: str) -> None:
    torch.manual_seed(0)
    model = SCNet(**TINY)
    from mixrep.separation.scnet_entry import to_scnet_order

    sources = torch.from_numpy(np.stack([to_scnet_order(toy_stems(0.3, seed=s)) for s in (0, 1)])) * 3
    mix = sources.sum(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(6):
        value = waveform_loss(loss, model(mix), sources, model)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(float(value.detach()))
    assert losses[-1] < 0.9 * losses[0], losses


def settings(tmp_path: Path, **separation) -> str:
    section = {"method": "scnet", "checkpoint": None, "model": TINY,
               "train": {"steps": 3, "batch_size": 2, "segment_s": 0.5, "eval_every": 2, "val_seconds": 1.0,
                         "max_val_tracks": 1},
               "inference": {"segment_s": 0.5, "overlap": 0.25, "batch_size": 2}}
    section.update(separation)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"seed": 0, "separation": section}))
    return str(path)


def test_train_separate_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"train": 2, "val": 1, "test": 2}, seconds=1.2, shard_size=3)
    monkeypatch.chdir(tmp_path)
    config = settings(tmp_path)
    checkpoint = Path("results/separation/scnet/checkpoint.th")
    assert train_main(["--manifest", str(corpus["manifest"]), "--checkpoint", str(checkpoint),
                       "--settings", config]) == 0
    curve = pd.read_csv(checkpoint.parent / "curve.csv")
    assert list(curve["step"]) == [2, 3]
    assert {"train_loss", "val_sdr", "val_sdr_vocals", "lr"} <= set(curve.columns)
    assert (checkpoint.parent / "curve.png").stat().st_size > 0
    loaded = load_separator(checkpoint)
    assert loaded.kwargs == {**CPU_KWARGS, **TINY} and loaded.info["best_step"] in (2, 3)

    shards = json.loads(corpus["shards"].read_text())
    for shard in shards:
        out = Path(f"results/stems/{shard}/index.parquet")
        assert separate_main(["--manifest", str(corpus["manifest"]), "--shards", str(corpus["shards"]),
                              "--shard", shard, "--checkpoint", str(checkpoint), "--out", str(out),
                              "--device", "cpu", "--settings", config]) == 0
        index = pd.read_parquet(out)
        assert list(index.columns[:4]) == ["track_id", "stem_dir", "method", "num_samples"]
        assert list(index["track_id"]) == shards[shard]
        for row in index.itertuples():
            assert row.stem_dir == f"results/stems/{shard}/{track_dirname(row.track_id)}"
            assert read_stems(row.stem_dir).shape == (4, 2, row.num_samples) and row.method == "scnet"

    indexes = [f"results/stems/{shard}/index.parquet" for shard in shards]
    assert eval_main(["--manifest", str(corpus["manifest"]), "--stems-index", *indexes, "--out-json",
                      "results/separation/eval.json", "--out-md", "results/separation/eval.md",
                      "--settings", config]) == 0
    result = json.loads(Path("results/separation/eval.json").read_text())
    assert result["num_tracks"] == 2 and result["separated_method"] == ["scnet"]
    assert result["summary"]["oracle"]["sdr"]["mean_all"] > 60  # exact stems: 10 log10(1 + E / 1e-7)
    assert set(result["summary"]) == {"separated", "oracle", "baseline"}
    assert "| baseline (mixture / 4) | sdr |" in Path("results/separation/eval.md").read_text()
    margin = result["margin_over_baseline"]["bass"]
    assert margin["tracks"] == 2 and margin["ci95"][0] <= margin["mean"] <= margin["ci95"][1]
    assert "Margin over the baseline" in Path("results/separation/eval.md").read_text()


def test_oracle_shard_lists_failures_and_keeps_going(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 3}, seconds=0.5, shard_size=3)
    frame = corpus["frame"]
    broken = frame.loc[1, "track_id"]
    (Path(frame.loc[1, "stems_dir"]) / "drums.wav").write_bytes(b"RIFF....")
    monkeypatch.chdir(tmp_path)
    config = settings(tmp_path, method="oracle")
    out = Path("results/stems/shard-000/index.parquet")
    assert separate_main(["--manifest", str(corpus["manifest"]), "--shards", str(corpus["shards"]),
                          "--shard", "shard-000", "--checkpoint", "", "--out", str(out), "--settings", config]) == 0
    index = pd.read_parquet(out).set_index("track_id")
    assert index.loc[broken, "status"] == "failed" and "drums.wav" in index.loc[broken, "reason"]
    ok = index[index["status"] == "ok"]
    assert len(ok) == 2 and set(ok["method"]) == {"oracle"}
    for track_id, row in ok.iterrows():  # true stems copied as FLAC-24 (the default): within its quantisation
        true = read_stems(frame.set_index("track_id").loc[track_id, "stems_dir"])
        step = 2.0 ** -23 * 2.0 ** np.ceil(np.log2(max(1.0, float(np.abs(true).max()))))
        np.testing.assert_allclose(read_stems(row["stem_dir"]), true, rtol=0, atol=step)

    # a shard where every track fails is an error, and no index is written
    for stems_dir in frame["stems_dir"]:
        (Path(stems_dir) / "drums.wav").unlink(missing_ok=True)
    with pytest.raises(SystemExit, match="every track of shard-000 failed"):
        separate_main(["--manifest", str(corpus["manifest"]), "--shards", str(corpus["shards"]),
                       "--shard", "shard-000", "--out", "results/stems/again/index.parquet", "--settings", config])
    assert not Path("results/stems/again/index.parquet").exists()


def test_bad_checkpoint_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 1}, seconds=0.5)
    bad = tmp_path / "bad.th"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(SystemExit, match="bad.th: not a torch checkpoint or truncated"):
        separate_main(["--manifest", str(corpus["manifest"]), "--shards", str(corpus["shards"]), "--shard",
                       "shard-000", "--checkpoint", str(bad), "--out", str(tmp_path / "i.parquet"),
                       "--settings", settings(tmp_path)])
