"""FMA: the real tracks.csv layout, subsets, FMA's own split, and its defective files as rejected rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mixrep.datasets import fma
from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates
from mixrep.datasets.records import DatasetError, Reason, reason_code

SR = 44100
# id: (smallest subset, FMA split, genre_top, listed duration s, what the audio file holds)
TRACKS = {
    2: ("small", "training", "Hip-Hop", 2.0, "ok"),
    5: ("small", "training", "Hip-Hop", 2.0, "ok"),
    10: ("small", "validation", "Pop", 2.0, "ok"),
    140: ("small", "test", "Folk", 2.0, "ok"),
    98565: ("small", "training", "Rock", 2.0, "truncated"),
    98567: ("small", "training", "Rock", 2.0, "short"),
    98569: ("small", "test", "Rock", 2.0, "silent"),
    99134: ("small", "validation", "Pop", 2.0, "garbage"),
    108925: ("small", "training", "Pop", 2.0, "missing"),
    133297: ("small", "test", "Folk", 200.0, "ok"),       # a 2 s file where a 30 s clip is listed
    200: ("medium", "training", "Rock", 2.0, "ok"),
    300: ("large", "test", None, 2.0, "ok"),
}
EXPECTED_SMALL = {
    "000002": "ok", "000005": "ok", "000010": "ok", "000140": "ok",
    "098565": Reason.TRUNCATED.value, "098567": Reason.TOO_SHORT.value, "098569": Reason.SILENT.value,
    "099134": Reason.UNREADABLE.value, "108925": Reason.MISSING_FILE.value,
    "133297": Reason.SHORTER_THAN_LISTED.value,
}


def _signal(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((t.size, 2))
    return tone.astype(np.float32)


def write_mp3(path: Path, kind: str, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(seed).bytes(8000))
        return
    audio = _signal(0.5 if kind == "short" else seconds, seed)
    if kind == "silent":
        audio[:] = 0.0
    sf.write(path, audio, SR, format="MP3")
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])


def write_tracks_csv(path: Path) -> None:
    """tracks.csv as FMA ships it: two header rows (group, field), then a row naming the index."""
    columns = pd.MultiIndex.from_tuples([
        ("album", "title"), ("artist", "name"), ("set", "split"), ("set", "subset"),
        ("track", "duration"), ("track", "genre_top"), ("track", "title")])
    rows = [[f"album {i}", f"artist {i}", split, subset, duration, genre, f"title {i}"]
            for i, (subset, split, genre, duration, _) in TRACKS.items()]
    table = pd.DataFrame(rows, index=pd.Index(list(TRACKS), name="track_id"), columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path)


@pytest.fixture(scope="module")
def fma_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fma")
    write_tracks_csv(root / "fma_metadata" / "tracks.csv")
    pd.DataFrame({"genre_id": [12, 15, 17, 21, 10, 25], "#tracks": [1] * 6, "parent": [0, 0, 0, 0, 0, 12],
                  "title": ["Rock", "Electronic", "Folk", "Hip-Hop", "Pop", "Punk"],
                  "top_level": [12, 15, 17, 21, 10, 12]}).to_csv(root / "fma_metadata" / "genres.csv",
                                                                  index=False)
    for number, (subset, _, _, duration, kind) in TRACKS.items():
        if kind == "missing" or subset != "small":
            continue
        write_mp3(fma.audio_path(root, "small", fma.track_id(number)), kind, min(duration, 2.0), number)
    return root


def test_tracks_csv_has_the_real_layout(fma_root: Path) -> None:
    lines = (fma_root / "fma_metadata" / "tracks.csv").read_text().splitlines()
    assert lines[0].startswith(",album,artist,set,set,track")
    assert lines[1].startswith(",title,name,split,subset,duration")
    assert lines[2].strip(",") == "track_id"
    assert list(fma.load_tracks(fma_root / "fma_metadata" / "tracks.csv").index) == list(TRACKS)


def test_truncated_mp3_really_decodes_short(fma_root: Path) -> None:
    path = fma.audio_path(fma_root, "small", "098565")
    data, _ = sf.read(path)  # soundfile does not raise on it: only the frame count tells
    assert data.shape[0] < sf.info(path).frames


def test_subsets_nest_and_ids_are_six_digits(fma_root: Path) -> None:
    ids = {s: {c.track_id for c in fma.list_fma(fma_root, s)} for s in ("small", "medium", "large", "full")}
    assert ids["small"] == set(EXPECTED_SMALL)
    assert ids["small"] < ids["medium"] < ids["large"] == ids["full"]
    assert ids["medium"] - ids["small"] == {"000200"}
    assert all(len(t) == 6 and t.isdigit() for t in ids["full"])
    # fma_medium/ was never written: every medium track is listed, and rejected as a missing file
    assert all(reason_code(c.reason) == Reason.MISSING_FILE.value for c in fma.list_fma(fma_root, "medium"))
    large = {c.track_id: c for c in fma.list_fma(fma_root, "large")}
    assert large["000300"].genre == "unknown"
    assert large["000002"].path.endswith("fma_large/000/000002.mp3")


def test_fma_split_and_listed_duration_are_kept(fma_root: Path) -> None:
    by_id = {c.track_id: c for c in fma.list_fma(fma_root, "small")}
    assert by_id["000002"].split == "train" and by_id["000010"].split == "val"
    assert by_id["000140"].split == "test"
    assert by_id["133297"].expected_duration_s == 30.0  # clipped subsets: min(listed, 30 s)
    assert {c.track_id: c.expected_duration_s for c in fma.list_fma(fma_root, "full")}["133297"] == 200.0


def test_manifest_rejects_each_defective_file_with_its_reason(fma_root: Path) -> None:
    settings = DatasetSettings(source="fma", root=str(fma_root), segment_s=1.0)
    table, shards = build_manifest(list_candidates(settings), settings)
    got = {row.track_id: ("ok" if row.status == "ok" else reason_code(row.reason)) for row in table.itertuples()}
    assert got == EXPECTED_SMALL
    ok = table[table["status"] == "ok"]
    assert ok["split"].tolist() == ["train", "train", "val", "test"]  # FMA's split, not redrawn
    assert ok["sample_rate"].eq(SR).all() and ok["channels"].eq(2).all() and ok["notes"].isna().all()
    assert shards == {"shard-000": ["000002", "000005", "000010", "000140"]}
    assert "decoded" in table.set_index("track_id").loc["098565", "reason"]


def test_genre_filter_keeps_rows_and_rejects_unknown_genres(fma_root: Path) -> None:
    settings = DatasetSettings(source="fma", root=str(fma_root), segment_s=1.0, genres=("Hip-Hop",))
    table, shards = build_manifest(list_candidates(settings), settings)
    assert len(table) == len(EXPECTED_SMALL)  # nothing disappears
    assert shards == {"shard-000": ["000002", "000005"]}
    filtered = table[table["reason"].fillna("").str.startswith(Reason.GENRE_NOT_SELECTED.value)]
    missing = table.set_index("track_id").loc["108925", "reason"]
    assert reason_code(missing) == Reason.MISSING_FILE.value  # a known problem beats the genre filter
    assert len(filtered) == len(EXPECTED_SMALL) - 3
    with pytest.raises(DatasetError, match="Hiphop"):
        list_candidates(DatasetSettings(source="fma", root=str(fma_root), genres=("Hiphop",)))


def test_missing_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="tracks.csv"):
        fma.list_fma(tmp_path, "small")
    (tmp_path / "fma_metadata").mkdir()
    (tmp_path / "fma_metadata" / "tracks.csv").write_text("track_id,title\n1,a\n")
    with pytest.raises(DatasetError, match="tracks.csv"):
        fma.list_fma(tmp_path, "small")
