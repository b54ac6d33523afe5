"""Multitrack folders (MUSDB18-HQ layout) and the synthetic corpus read as one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mixrep.audio import read_stems
from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates
from mixrep.datasets.multitrack import folder_split, list_multitrack
from mixrep.datasets.records import DatasetError, Reason, reason_code
from mixrep.datasets.synthetic import list_synthetic
from mixrep.stems import STEMS, track_dirname

SR = 44100


def write_track(folder: Path, *, seconds: float = 1.5, ext: str = ".wav", skip: tuple[str, ...] = (),
                frames: dict[str, int] | None = None, garbage: tuple[str, ...] = (), seed: int = 0) -> None:
    """A track folder: four stems and their sum as the mixture."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    stems = {name: (0.1 * rng.standard_normal((n, 2))).astype(np.float32) for name in STEMS}
    files = {**stems, "mixture": sum(stems.values())}
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in files.items():
        if name in skip:
            continue
        path = folder / f"{name}{ext}"
        if name in garbage:
            path.write_bytes(rng.bytes(3000))
            continue
        sf.write(path, audio[: (frames or {}).get(name, n)], SR)


@pytest.fixture(scope="module")
def musdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("musdb")
    write_track(root / "train" / "Song A", seed=1)
    write_track(root / "train" / "Actions - One Minute Smile", seed=2)
    write_track(root / "test" / "Song B", ext=".flac", seed=3)
    write_track(root / "test" / "Song C", skip=("bass",), seed=4)
    write_track(root / "train" / "Song D", skip=("mixture",), seed=5)
    write_track(root / "train" / "Song E", frames={"drums": 1000}, seed=6)
    write_track(root / "train" / "Song F", garbage=("other",), seed=7)
    (root / "train" / "readme.txt").write_text("not a track")
    return root


EXPECTED = {
    "train/Song A": ("ok", "train"), "train/Actions - One Minute Smile": ("ok", "val"),
    "test/Song B": ("ok", "test"), "test/Song C": (Reason.MISSING_STEM.value, "test"),
    "train/Song D": (Reason.MISSING_FILE.value, "train"), "train/Song E": (Reason.STEM_MISMATCH.value, "train"),
    "train/Song F": (Reason.STEM_UNREADABLE.value, "train"),
}


def test_musdb_layout_gives_ids_splits_and_reasons(musdb: Path) -> None:
    settings = DatasetSettings(source="multitrack", root=str(musdb), segment_s=1.0)
    table, shards = build_manifest(list_candidates(settings), settings)
    got = {r.track_id: ("ok" if r.status == "ok" else reason_code(r.reason), r.split) for r in table.itertuples()}
    assert got == EXPECTED
    rows = table.set_index("track_id")
    assert rows.loc["test/Song C", "reason"] == f"missing stem: bass not in {musdb / 'test' / 'Song C'}"
    assert rows.loc["test/Song B", "path"].endswith("Song B/mixture.flac")
    assert Path(rows.loc["train/Song A", "stems_dir"]) == musdb / "train" / "Song A"
    assert shards == {"shard-000": ["test/Song B", "train/Actions - One Minute Smile", "train/Song A"]}
    stems = read_stems(rows.loc["train/Song A", "stems_dir"])  # the recorded folder is what later stages read
    assert stems.shape == (4, 2, int(1.5 * SR))


def test_split_folders() -> None:
    assert folder_split(Path("train/Actions - One Minute Smile")) == "val"
    assert folder_split(Path("Train/x")) == "train" and folder_split(Path("test/x")) == "test"
    assert folder_split(Path("x")) is None and folder_split(Path("other/x")) is None


def test_genre_csv_and_tracks_without_split(tmp_path: Path) -> None:
    for i in range(4):
        write_track(tmp_path / f"t{i}", seconds=0.2, seed=i)
    (tmp_path / "g.csv").write_text("path,genre\nt0,pop\nt1,pop\n")
    candidates = {c.track_id: c for c in list_multitrack(tmp_path, tmp_path / "g.csv")}
    assert {t: c.genre for t, c in candidates.items()} == {"t0": "pop", "t1": "pop", "t2": "unknown",
                                                           "t3": "unknown"}
    assert all(c.split is None for c in candidates.values())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """results/corpus as the corpus rule writes it: tracks/<id>/ and metadata.parquet."""
    ids = [f"syn-{g}-{n}" for g in ("funk", "metal") for n in range(5)]
    for i, tid in enumerate(ids[:-1]):
        write_track(tmp_path / "tracks" / tid, seconds=0.3, seed=i)
    pd.DataFrame({"track_id": ids, "genre": [t.split("-")[1] for t in ids],
                  "tempo": 120.0}).to_parquet(tmp_path / "metadata.parquet")
    return tmp_path


def test_synthetic_corpus(corpus: Path) -> None:
    candidates = list_synthetic(corpus / "metadata.parquet")
    assert [c.track_id for c in candidates] == sorted(f"syn-{g}-{n}" for g in ("funk", "metal") for n in range(5))
    assert {c.source for c in candidates} == {"synthetic"}
    settings = DatasetSettings(source="synthetic", segment_s=0.2)
    table, shards = build_manifest(list_candidates(settings, corpus / "metadata.parquet"), settings)
    rows = table.set_index("track_id")
    assert reason_code(rows.loc["syn-metal-4", "reason"]) == Reason.MISSING_FILE.value
    ok = table[table["status"] == "ok"]
    assert len(ok) == 9 and ok["genre"].value_counts().to_dict() == {"funk": 5, "metal": 4}
    # no split of its own: drawn per genre (5 -> 3/1/1, 4 -> 2/1/1 with 0.6/0.2/0.2)
    counts = ok.groupby(["genre", "split"]).size().to_dict()
    assert counts == {("funk", "train"): 3, ("funk", "val"): 1, ("funk", "test"): 1,
                      ("metal", "train"): 2, ("metal", "val"): 1, ("metal", "test"): 1}


def test_synthetic_folders_match_by_id_or_by_track_dirname(tmp_path: Path) -> None:
    ids = ["syn-Funk-000", "syn-funk-001", "syn-Funk-002"]  # the first is not a plain name
    pd.DataFrame({"track_id": ids, "genre": ["Funk", "funk", "Funk"]}).to_parquet(tmp_path / "metadata.parquet")
    write_track(tmp_path / "tracks" / ids[0], seed=1)  # named by the id, as the corpus writes it
    write_track(tmp_path / "tracks" / ids[1], seed=2)
    write_track(tmp_path / "tracks" / track_dirname(ids[2]), seed=3)
    candidates = {c.track_id: c for c in list_synthetic(tmp_path / "metadata.parquet")}
    assert sorted(candidates) == sorted(ids)
    assert [candidates[t].genre for t in ids] == ["Funk", "funk", "Funk"]
    assert all(c.reason is None for c in candidates.values())


def test_synthetic_needs_its_metadata(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="run the `corpus` rule"):
        list_synthetic(tmp_path / "metadata.parquet")
    pd.DataFrame({"track_id": ["a"]}).to_parquet(tmp_path / "metadata.parquet")
    with pytest.raises(DatasetError, match=r"missing columns \['genre'\]"):
        list_synthetic(tmp_path / "metadata.parquet")
    with pytest.raises(DatasetError, match="corpus metadata"):
        list_candidates(DatasetSettings(source="synthetic"), None)
