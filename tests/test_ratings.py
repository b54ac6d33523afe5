"""Rated mixes: the simulated listening test and the real-ratings CSV loader (mixrep.ratings)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mixrep.ratings import PanelSettings, load_ratings_csv, simulate_ratings, split_songs, synthetic_table
from mixrep.ratings.cli import main as ratings_main
from mixrep.ratings.table import TABLE_COLUMNS

FAULTS = ["gain", "eq_peak", "compression", "pan", "reverb"]


def make_corpus(n_tracks: int = 40, variants: int = 6, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A manifest and recipes table in the degrade contract's shape (docs/CONTRACTS.md)."""
    rng = np.random.default_rng(seed)
    tracks = [f"syn-g{i % 3}-{i:03d}" for i in range(n_tracks)]
    splits = np.array(["train", "val", "test"])[np.arange(n_tracks) % 3]
    manifest = pd.DataFrame({"track_id": tracks, "genre": [t.split("-")[1] for t in tracks], "split": splits,
                             "status": "ok", "reason": None})
    rows = []
    for track in tracks:
        for v in range(variants):
            faults = "none" if v == 0 else ",".join(rng.choice(FAULTS, size=rng.integers(1, 3), replace=False))
            effects = [] if v == 0 else [{"stem": "vocals", "effect": f, "params": {}} for f in faults.split(",")]
            rows.append({"track_id": track, "variant_id": v, "effects": json.dumps(effects),
                         "fault_types": faults, "severity": 0.0 if v == 0 else float(rng.uniform(0.3, 15.0)),
                         "seed": v})
    return manifest, pd.DataFrame(rows)


# ------------------------------------------------------------------ simulated listening test
def test_synthetic_table_contract_labels_and_song_splits() -> None:
    manifest, recipes = make_corpus()
    table = synthetic_table(manifest, recipes, {"song_splits": ["val", "test"]}, seed=0)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["simulated"].all()
    rated_tracks = set(table["track_id"])
    assert rated_tracks == set(manifest.loc[manifest["split"] != "train", "track_id"])  # encoder never trained on them
    assert (table.groupby("song_id")["split"].nunique() == 1).all()  # no song in two splits
    assert set(table["split"]) == {"train", "val", "test"}
    assert (table["n_raters"] == 8).all() and table["score"].between(0, 100).all()
    assert table["mix_id"].is_unique


def test_synthetic_scores_fall_with_severity_on_average() -> None:
    manifest, recipes = make_corpus(n_tracks=60)
    table = synthetic_table(manifest, recipes, {}, seed=3).merge(recipes, on=["track_id", "variant_id"])
    bins = pd.cut(table["severity"], [-0.01, 0.01, 3.0, 6.0, 9.0, 12.0, 15.0])
    means = table.groupby(bins, observed=True)["score"].mean().to_numpy()
    assert np.all(np.diff(means) < 0), means
    reference = table.loc[table["variant_id"] == 0, "score"].mean()
    assert reference > 85  # the hidden reference is rated near the top


def test_panel_model_map_and_fault_weights() -> None:
    model = PanelSettings(half_score_severity=0.5, fault_weights={"pan": 0.0, "reverb": 2.0})
    assert model.expected_score(np.array([0.0]))[0] == pytest.approx(100.0)
    assert model.expected_score(np.array([0.5]))[0] == pytest.approx(50.0)
    assert np.all(np.diff(model.expected_score(np.linspace(0, 5, 20))) < 0)
    perceived = model.perceived_severity(np.array([1.0, 1.0, 1.0, 1.0]), ["none", "pan", "reverb", "pan,reverb"])
    assert perceived.tolist() == [0.0, 0.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="unknown ratings.panel keys"):
        PanelSettings.from_config({"listenres": 3})


def test_simulation_is_deterministic_and_seeded() -> None:
    _, recipes = make_corpus(n_tracks=6)
    a = simulate_ratings(recipes, PanelSettings(), seed=1)
    assert a.equals(simulate_ratings(recipes, PanelSettings(), seed=1))
    assert not a["score"].equals(simulate_ratings(recipes, PanelSettings(), seed=2)["score"])


def test_split_songs_every_split_gets_a_song() -> None:
    splits = split_songs(["s1", "s2", "s3"], [0.9, 0.05, 0.05], seed=0)
    assert sorted(splits.values()) == ["test", "train", "val"]
    with pytest.raises(ValueError, match="at least 3"):
        split_songs(["a", "b"], [0.5, 0.25, 0.25], seed=0)


def test_relative_scale_is_z_normalised_per_rater_and_song() -> None:
    manifest, recipes = make_corpus(n_tracks=12)
    table = synthetic_table(manifest, recipes, {"scale": "relative"}, seed=0)
    song_means = table.groupby("song_id")["score"].mean()
    assert np.allclose(song_means, 0.0, atol=1e-9)  # every rater's z-scores average 0 within a song


# ------------------------------------------------------------------ real ratings CSV
def make_rated_folder(tmp_path, names=("song1/a.wav", "song1/b.wav", "song2/a.wav", "song2/b.wav",
                                       "song3/a.wav", "song3/b.wav")):
    root = tmp_path / "rated"
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, np.zeros((4410, 2), dtype=np.float32), 44100)
    manifest = pd.DataFrame({"track_id": list(names), "status": "ok", "reason": None, "split": "test"})
    return root, manifest


def test_csv_bad_rows_are_listed_with_row_and_reason(tmp_path) -> None:
    root, manifest = make_rated_folder(tmp_path)
    manifest.loc[manifest["track_id"] == "song3/b.wav", ["status", "reason"]] = ["rejected", "too short"]
    csv = tmp_path / "ratings.csv"
    csv.write_text("mix_path,song_id,score,rater_id\n"
                   "song1/a.wav,song1,80,r1\n"        # 2 ok
                   "song1/b.wav,song1,40,r1\n"        # 3 ok
                   "song1/a.wav,song1,70,r1\n"        # 4 duplicate of row 2
                   "song2/a.wav,song2,abc,r1\n"       # 5 not a number
                   "song2/a.wav,song2,120,r1\n"       # 6 out of range
                   "song2/missing.wav,song2,50,r1\n"  # 7 no audio file
                   "song2/b.wav,song2,55,r1\n"        # 8 ok
                   "song3/b.wav,song3,30,r1\n"        # 9 manifest rejected it
                   "song3/a.wav,song3,60,r1\n"        # 10 ok
                   "song1/a.wav,song2,75,r2\n"        # 11 song conflict
                   "song1/a.wav,song1,90,r2\n")       # 12 ok
    loaded = load_ratings_csv(csv, dataset_root=root, manifest=manifest, scale="absolute")
    reasons = {r.row: r.reason for r in loaded.rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 9, 11]
    assert "duplicate of row 2" in reasons[4]
    assert "not a number" in reasons[5]
    assert "outside the absolute range" in reasons[6]
    assert "not found" in reasons[7]
    assert "too short" in reasons[9]
    assert "conflicts" in reasons[11]
    assert len(loaded.individual) + len(loaded.rejected) == 11  # nothing dropped silently

    from mixrep.ratings.csv import csv_table

    table = csv_table(loaded, scale="absolute", fractions=[0.4, 0.3, 0.3], seed=0)
    row = table.set_index("mix_id").loc["song1/a.wav"]
    assert (row["score"], row["n_raters"], row["variant_id"]) == (85.0, 2, 0)
    assert row["score_sd"] == pytest.approx(np.std([80, 90], ddof=1))
    assert not table["simulated"].any()


def test_csv_missing_column_and_missing_file_are_clear_errors(tmp_path) -> None:
    root, manifest = make_rated_folder(tmp_path)
    csv = tmp_path / "bad.csv"
    csv.write_text("mix_path,score\nsong1/a.wav,3\n")
    with pytest.raises(ValueError, match=r"bad.csv: missing column\(s\) \['song_id'\]"):
        load_ratings_csv(csv, dataset_root=root, manifest=manifest)
    with pytest.raises(ValueError, match="does not exist"):
        load_ratings_csv(tmp_path / "nope.csv", dataset_root=root, manifest=manifest)


def test_csv_relative_scale_rejects_lonely_ratings(tmp_path) -> None:
    root, manifest = make_rated_folder(tmp_path)
    csv = tmp_path / "rel.csv"
    csv.write_text("mix_path,song_id,score,rater_id\n"
                   "song1/a.wav,song1,3,r1\nsong1/b.wav,song1,1,r1\n"
                   "song2/a.wav,song2,5,r1\nsong2/b.wav,song2,5,r1\n"
                   "song3/a.wav,song3,-2,r1\nsong3/a.wav,song3,4,r2\n")
    loaded = load_ratings_csv(csv, dataset_root=root, manifest=manifest, scale="relative")
    assert [r.row for r in loaded.rejected] == [6, 7]
    assert all("rated only this mix" in r.reason for r in loaded.rejected)


def test_cli_writes_table_and_rejected_csv(tmp_path) -> None:
    root, manifest = make_rated_folder(tmp_path)
    manifest_path = tmp_path / "manifest.parquet"
    manifest.to_parquet(manifest_path)
    csv = tmp_path / "ratings.csv"
    csv.write_text("mix_path,song_id,score\nsong1/a.wav,song1,80\nsong1/b.wav,song1,x\n"
                   "song2/a.wav,song2,60\nsong3/a.wav,song3,20\n")
    settings = json.dumps({"seed": 0, "dataset": {"root": str(root)},
                           "ratings": {"source": "csv", "csv": str(csv), "scale": "absolute"}})
    out, rejected = tmp_path / "out" / "ratings.parquet", tmp_path / "out" / "rejected.csv"
    assert ratings_main(["--manifest", str(manifest_path), "--out", str(out), "--rejected", str(rejected),
                         "--settings", settings]) == 0
    assert len(pd.read_parquet(out)) == 3
    listed = pd.read_csv(rejected)
    assert listed[["row", "mix_path"]].values.tolist() == [[3, "song1/b.wav"]]
