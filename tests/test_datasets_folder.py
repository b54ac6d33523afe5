"""Folder source and the per-file checks: formats, conversions recorded in notes, every rejection reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mixrep.audio import AudioError, Decoded, load_audio
from mixrep.datasets import inspect as inspect_module
from mixrep.datasets.folder import list_folder
from mixrep.datasets.inspect import InspectOptions, conversion_notes, inspect_candidate
from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates
from mixrep.datasets.records import Candidate, DatasetError, Reason, reason_code

SR = 44100


def tone(seconds: float, rate: int = SR, channels: int = 2, seed: int = 0) -> np.ndarray:
    """(frames, channels) float32: a sine plus a little noise (never silent)."""
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.05 * np.random.default_rng(seed).standard_normal((t.size, channels))
    return (0.3 * np.sin(2 * np.pi * 330 * t)[:, None] + noise).astype(np.float32)


def write(path: Path, audio: np.ndarray, rate: int = SR, **kwargs: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, **kwargs)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folder")
    write(root / "rock" / "a.wav", tone(2.0, seed=1), subtype="PCM_16")
    write(root / "rock" / "b.flac", tone(2.0, seed=2))
    write(root / "jazz" / "c.ogg", tone(2.0, seed=3), format="OGG", subtype="VORBIS")
    write(root / "jazz" / "d.mp3", tone(2.0, seed=4), format="MP3")
    write(root / "misc" / "mono48.wav", tone(2.0, rate=48000, channels=1, seed=5), 48000)
    write(root / "misc" / "six.wav", tone(2.0, channels=6, seed=6), subtype="FLOAT")
    nan = tone(2.0, seed=7)
    nan[100:110] = np.nan
    write(root / "misc" / "nan.wav", nan, subtype="FLOAT")
    write(root / "misc" / "empty.wav", np.zeros((0, 2), np.float32))
    write(root / "misc" / "short.wav", tone(0.4, seed=8))
    write(root / "misc" / "silence.flac", np.zeros((2 * SR, 2), np.float32))
    (root / "misc" / "noise.ogg").write_bytes(np.random.default_rng(9).bytes(4000))
    (root / "notes.txt").write_text("not audio")
    write(root / ".cache" / "hidden.wav", tone(2.0))
    pd.DataFrame({"path": ["rock/a.wav", "rock/b.flac", "jazz/c.ogg", str(root / "jazz" / "d.mp3"), "gone.wav"],
                  "genre": ["rock", "rock", "jazz", "jazz", "rock"]}).to_csv(root / "genres.csv", index=False)
    return root


EXPECTED = {
    "rock/a.wav": "ok", "rock/b.flac": "ok", "jazz/c.ogg": "ok", "jazz/d.mp3": "ok",
    "misc/mono48.wav": "ok", "misc/six.wav": "ok", "misc/nan.wav": Reason.NON_FINITE.value,
    "misc/empty.wav": Reason.NO_AUDIO.value, "misc/short.wav": Reason.TOO_SHORT.value,
    "misc/silence.flac": Reason.SILENT.value, "misc/noise.ogg": Reason.UNREADABLE.value,
    "gone.wav": Reason.MISSING_FILE.value,
}


def test_listing_finds_audio_recursively_with_genres(folder: Path) -> None:
    candidates = {c.track_id: c for c in list_folder(folder, folder / "genres.csv")}
    assert set(candidates) == set(EXPECTED)  # notes.txt and hidden folders are not inputs
    assert candidates["jazz/d.mp3"].genre == "jazz"  # absolute CSV path inside the root
    assert candidates["misc/nan.wav"].genre == "unknown"
    assert reason_code(candidates["gone.wav"].reason) == Reason.MISSING_FILE.value
    assert {c.track_id for c in list_folder(folder)} == set(EXPECTED) - {"gone.wav"}


def test_every_file_gets_its_status_and_reason(folder: Path) -> None:
    settings = DatasetSettings(source="folder", root=str(folder), genre_csv=str(folder / "genres.csv"),
                               segment_s=1.0)
    table, shards = build_manifest(list_candidates(settings), settings)
    got = {r.track_id: "ok" if r.status == "ok" else reason_code(r.reason) for r in table.itertuples()}
    assert got == EXPECTED
    rows = table.set_index("track_id")
    assert rows.loc["misc/mono48.wav", "notes"] == "mono duplicated to stereo; resampled 48000 Hz -> 44100 Hz"
    assert rows.loc["misc/mono48.wav", ["sample_rate", "channels"]].tolist() == [48000, 1]
    assert rows.loc["misc/six.wav", "notes"] == "kept the first 2 of 6 channels"
    assert rows.loc["misc/nan.wav", "reason"] == "non-finite samples: 20 NaN/Inf samples"
    assert rows.loc["rock/a.wav", "duration_s"] == pytest.approx(2.0)
    assert rows.loc["misc/short.wav", "duration_s"] == pytest.approx(0.4)
    assert sorted(i for ids in shards.values() for i in ids) == sorted(t for t, s in EXPECTED.items() if s == "ok")
    assert rows.loc[rows["status"] == "rejected", "shard"].isna().all()


def test_notes_match_what_loading_converts(folder: Path) -> None:
    for name, (rate, channels) in {"misc/mono48.wav": (48000, 1), "rock/a.wav": (SR, 2)}.items():
        audio, notes = load_audio(folder / name)
        assert notes == conversion_notes(rate, channels)
        assert audio.shape[0] == 2


def test_parallel_inspection_equals_serial(folder: Path) -> None:
    settings = DatasetSettings(source="folder", root=str(folder), segment_s=1.0)
    candidates = list_candidates(settings)
    serial, _ = build_manifest(candidates, settings, jobs=1)
    parallel, _ = build_manifest(candidates, settings, jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_min_duration_overrides_segment(folder: Path) -> None:
    candidate = Candidate(track_id="misc/short.wav", source="folder", path=str(folder / "misc/short.wav"))
    assert inspect_candidate(candidate, InspectOptions(min_duration_s=0.3)).status == "ok"
    settings = DatasetSettings(segment_s=10.0, min_duration_s=0.3)
    assert settings.inspect_options().min_duration_s == 0.3


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.mp3", tone(3.0), format="MP3")
    path.write_bytes(path.read_bytes()[:-6000])
    row = inspect_candidate(Candidate(track_id="cut", source="folder", path=str(path)), InspectOptions(1.0))
    assert reason_code(row.reason) == Reason.TRUNCATED.value
    assert row.duration_s < 3.0 and row.status == "rejected"


def test_decode_failure_after_a_good_header_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "x.wav", tone(2.0))

    def failing_decode(p: str) -> Decoded:
        raise AudioError(p, "decoding failed (LibsndfileError: internal error)")

    monkeypatch.setattr(inspect_module, "decode", failing_decode)
    row = inspect_candidate(Candidate(track_id="x", source="folder", path=str(path)), InspectOptions(1.0))
    assert row.reason == "decode failed: decoding failed (LibsndfileError: internal error)"
    assert row.sample_rate == SR  # the header was read


def test_bad_root_and_csv_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset.root must be set"):
        list_folder(None)
    with pytest.raises(DatasetError, match="not a directory"):
        list_folder(tmp_path / "absent")
    (tmp_path / "g.csv").write_text("file,label\na.wav,rock\n")
    with pytest.raises(DatasetError, match=r"missing columns \['genre', 'path'\]"):
        list_folder(tmp_path, tmp_path / "g.csv")
