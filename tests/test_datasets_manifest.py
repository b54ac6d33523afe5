"""Splits, shards, settings, the summary, the parquet written, and the CLI end to end."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml

from mixrep.datasets.manifest import (WAV_BYTES_PER_SECOND, DatasetSettings, build_manifest, list_candidates,
                                      summarize, write_manifest)
from mixrep.datasets.records import MANIFEST_COLUMNS, DatasetError
from mixrep.datasets.splits import cut_shards, split_counts, stratified_splits

SR = 44100


def test_split_counts_known_values() -> None:
    assert split_counts(10, (0.6, 0.2, 0.2)) == (6, 2, 2)
    assert split_counts(5, (0.6, 0.2, 0.2)) == (3, 1, 1)
    assert split_counts(1, (0.6, 0.2, 0.2)) == (1, 0, 0)
    assert split_counts(2, (0.6, 0.2, 0.2)) == (1, 1, 0)
    assert split_counts(3, (0.6, 0.2, 0.2)) == (1, 1, 1)  # rounding alone gives 2/0/1
    assert split_counts(4, (0.6, 0.2, 0.2)) == (2, 1, 1)
    assert split_counts(10, (0.9, 0.1, 0)) == (9, 1, 0)
    assert split_counts(7, (3, 1, 0)) == (5, 2, 0)  # fractions are normalised
    for n in range(40):
        assert sum(split_counts(n, (0.7, 0.15, 0.15))) == n
    with pytest.raises(ValueError, match="positive sum"):
        split_counts(3, (0, 0, 0))


def test_stratified_splits_are_deterministic_and_per_genre() -> None:
    genres = {f"t{i:03d}": ("rock" if i % 3 else "jazz") for i in range(90)}
    splits = stratified_splits(genres, (0.6, 0.2, 0.2), seed=0)
    assert splits == stratified_splits(dict(reversed(list(genres.items()))), (0.6, 0.2, 0.2), seed=0)
    assert splits != stratified_splits(genres, (0.6, 0.2, 0.2), seed=1)
    per = Counter((genres[t], s) for t, s in splits.items())
    assert per == {("rock", "train"): 36, ("rock", "val"): 12, ("rock", "test"): 12,
                   ("jazz", "train"): 18, ("jazz", "val"): 6, ("jazz", "test"): 6}


def test_adding_tracks_barely_moves_existing_splits() -> None:
    genres = {f"t{i:03d}": ("rock" if i % 2 else "jazz") for i in range(60)}
    before = stratified_splits(genres, (0.6, 0.2, 0.2), seed=3)
    for extra in range(20):
        grown = {**genres, f"new{extra}": "rock"}
        after = stratified_splits(grown, (0.6, 0.2, 0.2), seed=3)
        moved = [t for t in genres if after[t] != before[t]]
        assert len(moved) <= 2 and all(genres[t] == "rock" for t in moved)


@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.5, 0.5, 0.0)])
def test_growing_a_genre_one_track_at_a_time(fractions: tuple[float, float, float]) -> None:
    grown: dict[str, str] = {}
    previous: dict[str, str] = {}
    for i in range(40):
        grown[f"x{i}"] = "pop"
        current = stratified_splits(grown, fractions, seed=11)
        assert Counter(current.values()) == Counter(
            {s: c for s, c in zip(("train", "val", "test"), split_counts(len(grown), fractions)) if c})
        assert sum(previous[t] != current[t] for t in previous) <= 2
        previous = current


def test_shards_are_sorted_named_and_sized() -> None:
    ids = [f"{i:06d}" for i in (5, 3, 40, 1, 22, 7, 9)]
    shards = cut_shards(ids, 3)
    assert list(shards) == ["shard-000", "shard-001", "shard-002"]
    assert shards["shard-000"] == ["000001", "000003", "000005"]
    assert [len(v) for v in shards.values()] == [3, 3, 1]
    assert [i for v in shards.values() for i in v] == sorted(ids)
    assert list(cut_shards([str(i) for i in range(2000)], 1))[-1] == "shard-1999"
    assert cut_shards([], 4) == {}
    with pytest.raises(ValueError, match="unique"):
        cut_shards(["a", "a"], 2)


def test_settings_defaults_follow_the_schema(repo_root: Path) -> None:
    schema = yaml.safe_load((repo_root / "workflow/schemas/sections/dataset.schema.yaml").read_text())
    defaults = DatasetSettings()
    for key, spec in schema["properties"].items():
        value = getattr(defaults, key)
        assert (list(value) if isinstance(value, tuple) else value) == spec["default"], key
    with pytest.raises(DatasetError, match="unknown settings"):
        DatasetSettings.from_config({"dataset": {"sorce": "fma"}})
    parsed = DatasetSettings.from_config({"seed": 4, "shard_size": 2, "dataset": {"genres": ["a"]}})
    assert (parsed.seed, parsed.shard_size, parsed.genres) == (4, 2, ("a",))


def write_folder(root: Path) -> None:
    """6 usable tracks (1.0 .. 3.5 s; 4 pop, 2 metal), plus a too short and a silent pop file."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        noise = 0.1 * rng.standard_normal((int((1.0 + 0.5 * i) * SR), 2))
        sf.write(root / f"song{i}.wav", noise.astype(np.float32), SR)
    sf.write(root / "short.wav", np.full((SR // 4, 2), 0.1, np.float32), SR)
    sf.write(root / "quiet.wav", np.zeros((SR, 2), np.float32), SR)
    genres = {f"song{i}.wav": "pop" if i < 4 else "metal" for i in range(6)}
    genres.update({"short.wav": "pop", "quiet.wav": "pop"})
    (root / "genres.csv").write_text("path,genre\n" + "".join(f"{p},{g}\n" for p, g in genres.items()))


def test_summary_counts_and_storage(tmp_path: Path) -> None:
    write_folder(tmp_path)
    settings = DatasetSettings(source="folder", root=str(tmp_path), genre_csv=str(tmp_path / "genres.csv"),
                               segment_s=0.5, shard_size=4, genres=("pop", "jazz"))
    table, shards = build_manifest(list_candidates(settings), settings)
    text = summarize(table, shards, settings)
    assert "input files: 8   ok: 4   rejected: 4" in text
    assert "  genre not selected           2" in text and "  too short                    1" in text
    assert "  digital silence              1" in text
    assert "genres not selected (not probed): metal 2" in text
    assert "warning: selected genres without any track: ['jazz']" in text
    total = 1.0 + 1.5 + 2.0 + 2.5
    assert f"ok duration: {total:.1f} s" in text and "mean 1.8 s per track" in text
    assert "shards: 1 of up to 4 tracks (shard-000 .. shard-000)" in text
    per_file_mb = total / 4 * WAV_BYTES_PER_SECOND / 1e6
    assert WAV_BYTES_PER_SECOND == 352_800
    stems_line = next(line for line in text.splitlines() if line.startswith("  stems (4 files)"))
    assert stems_line.split()[-5:] == [f"{4 * per_file_mb:.1f}", "MB", "|", f"{4 * total * 0.3528:.1f}", "MB"]
    ok = table[table["status"] == "ok"]
    assert ok["split"].notna().all() and table.loc[table["status"] != "ok", "split"].isna().all()


def test_parquet_columns_and_types(tmp_path: Path) -> None:
    write_folder(tmp_path / "data")
    settings = DatasetSettings(source="folder", root=str(tmp_path / "data"), segment_s=0.5)
    table, _ = build_manifest(list_candidates(settings), settings)
    path = write_manifest(table, tmp_path / "m.parquet")
    schema = pq.read_schema(path)
    assert tuple(schema.names) == MANIFEST_COLUMNS
    assert str(schema.field("sample_rate").type) == "int64" and str(schema.field("duration_s").type) == "double"
    back = pd.read_parquet(path)
    assert back["track_id"].is_unique and len(back) == 8
    assert set(back["status"]) == {"ok", "rejected"}


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    write_folder(tmp_path)
    settings = DatasetSettings(source="folder", root=str(tmp_path), segment_s=0.5)
    candidates = list_candidates(settings)
    with pytest.raises(DatasetError, match="not unique"):
        build_manifest([*candidates, candidates[0]], settings)


def test_cli_end_to_end(tmp_path: Path, tool_env: dict[str, str]) -> None:
    data = tmp_path / "data"
    write_folder(data)
    out = tmp_path / "results" / "manifest"
    settings = {"seed": 0, "shard_size": 2, "dataset": {"source": "folder", "root": str(data),
                                                        "genre_csv": str(data / "genres.csv"), "segment_s": 0.5}}
    command = ["mixrep", "manifest", "--manifest", str(out / "manifest.parquet"), "--shards",
               str(out / "shards.json"), "--summary", str(out / "summary.txt"), "--jobs", "2",
               "--settings", json.dumps(settings)]
    done = subprocess.run(command, env=tool_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shards = json.loads((out / "shards.json").read_text())
    assert shards == {"shard-000": ["song0.wav", "song1.wav"], "shard-001": ["song2.wav", "song3.wav"],
                      "shard-002": ["song4.wav", "song5.wav"]}
    table = pd.read_parquet(out / "manifest.parquet")
    assert table.set_index("track_id").loc["song5.wav", "shard"] == "shard-002"
    assert (out / "summary.txt").read_text() == done.stdout
    bad = subprocess.run(command[:-1] + [json.dumps({"dataset": {"source": "folder", "root": str(tmp_path / "x")}})],
                         env=tool_env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "is not a directory" in bad.stderr and "Traceback" not in bad.stderr
