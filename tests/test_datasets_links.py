"""Every directory entry that looks like audio gets exactly one manifest row: links that lead nowhere too.

A listing that keeps only `Path.is_file()` entries drops dangling links and link loops without a word
(33 rows for 36 entries). Here each kind of entry is built and must come out as exactly one row.
Decision (docs/datasets.md): a link to a readable file is a file; when its target is another entry of the
same data (or two entries are hard links of one file), one entry keeps the file and the other is rejected as
`duplicate` naming it, so one recording is never counted twice nor split across train and test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mixrep.datasets import fma
from mixrep.datasets.entries import duplicate_of, entry_problem
from mixrep.datasets.folder import find_audio
from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates
from mixrep.datasets.multitrack import list_multitrack
from mixrep.datasets.records import Reason, reason_code
from mixrep.stems import MIXTURE, STEMS

SR = 44100


def write(path: Path, seconds: float = 0.5, seed: int = 0, **kwargs: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = (0.1 * np.random.default_rng(seed).standard_normal((int(seconds * SR), 2))).astype(np.float32)
    sf.write(path, audio, SR, **kwargs)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write(root / "rock" / "a.wav", seed=1)
    write(root / "rock" / "b.flac", seed=2)
    write(root / "album.wav" / "c.wav", seed=3)  # a real folder named like audio is a folder
    (root / "dangling.wav").symlink_to("missing.wav")
    (root / "loop.wav").symlink_to("loop.wav")
    (root / "ping.mp3").symlink_to("pong.mp3")
    (root / "pong.mp3").symlink_to("ping.mp3")
    (root / "link-to-a.wav").symlink_to(Path("rock") / "a.wav")
    (root / "outside.wav").symlink_to(write(tmp_path / "elsewhere" / "o.wav", seed=4))
    (root / "folder-link.wav").symlink_to(root / "rock")
    os.link(root / "rock" / "b.flac", root / "hard.flac")
    os.mkfifo(root / "pipe.ogg")
    (root / "notes.txt").write_text("not audio, not an input")
    return root


EXPECTED = {  # track id -> reason code (None: ok)
    "album.wav/c.wav": None,
    "dangling.wav": Reason.BROKEN_LINK.value,
    "folder-link.wav": Reason.NOT_A_FILE.value,
    "hard.flac": None,  # first in string order of the two names of one file
    "link-to-a.wav": Reason.DUPLICATE.value,
    "loop.wav": Reason.SYMLINK_LOOP.value,
    "outside.wav": None,  # a link to a file no other entry is: accepted, once
    "ping.mp3": Reason.SYMLINK_LOOP.value,
    "pipe.ogg": Reason.NOT_A_FILE.value,
    "pong.mp3": Reason.SYMLINK_LOOP.value,
    "rock/a.wav": None,
    "rock/b.flac": Reason.DUPLICATE.value,
}


def test_every_audio_entry_is_listed(folder: Path) -> None:
    assert find_audio(folder) == sorted(EXPECTED)


def test_one_row_per_entry_with_the_reason(folder: Path) -> None:
    settings = DatasetSettings(source="folder", root=str(folder), segment_s=0.25)
    table, shards = build_manifest(list_candidates(settings), settings)
    assert len(table) == len(EXPECTED) and table["track_id"].is_unique
    got = {tid: (reason_code(r) if isinstance(r, str) else None) for tid, r in zip(table["track_id"], table["reason"])}
    assert got == EXPECTED
    reasons = dict(zip(table["track_id"], table["reason"]))
    assert reasons["dangling.wav"] == f"broken link: {folder / 'dangling.wav'} -> missing.wav"
    assert reasons["loop.wav"] == f"symlink loop: {folder / 'loop.wav'} -> loop.wav"
    assert reasons["link-to-a.wav"] == "duplicate: link-to-a.wav is the same file as rock/a.wav"
    assert reasons["rock/b.flac"] == "duplicate: rock/b.flac is the same file as hard.flac"
    assert reasons["pipe.ogg"].endswith("is a FIFO") and reasons["folder-link.wav"].endswith("is a directory")
    assert sorted(t for ids in shards.values() for t in ids) == sorted(t for t, c in EXPECTED.items() if c is None)


def test_entry_problem_and_duplicates_directly(folder: Path) -> None:
    assert entry_problem(folder / "rock" / "a.wav") is None
    assert entry_problem(folder / "outside.wav") is None
    assert reason_code(entry_problem(folder / "absent.wav")) == Reason.MISSING_FILE.value
    paths = {"x": folder / "rock" / "a.wav", "w": folder / "link-to-a.wav", "z": folder / "dangling.wav"}
    assert duplicate_of(paths) == {"w": "x"}  # the file itself is kept, not the link, whatever the order


def test_multitrack_folders_with_broken_entries_keep_their_row(tmp_path: Path) -> None:
    root = tmp_path / "musdb"
    for name in (MIXTURE, *STEMS):
        write(root / "train" / "Good" / f"{name}.wav", seed=len(name))
        write(root / "train" / "Bass Link" / f"{name}.wav", seed=len(name))
        (root / "train" / "All Dangling").mkdir(parents=True, exist_ok=True)
        (root / "train" / "All Dangling" / f"{name}.wav").symlink_to(tmp_path / "gone" / f"{name}.wav")
    (root / "train" / "Bass Link" / "bass.wav").unlink()
    (root / "train" / "Bass Link" / "bass.wav").symlink_to("nowhere.wav")
    write(root / "test" / "Loop" / f"{MIXTURE}.wav")  # replaced by a loop below, after the stems
    for name in STEMS:
        write(root / "test" / "Loop" / f"{name}.wav", seed=len(name))
    (root / "test" / "Loop" / f"{MIXTURE}.wav").unlink()
    (root / "test" / "Loop" / f"{MIXTURE}.wav").symlink_to(f"{MIXTURE}.wav")
    reasons = {c.track_id: c.reason for c in list_multitrack(root)}
    assert set(reasons) == {"train/Good", "train/Bass Link", "train/All Dangling", "test/Loop"}
    assert reasons["train/Good"] is None
    assert reasons["train/Bass Link"] == f"broken link: {root / 'train/Bass Link/bass.wav'} -> nowhere.wav"
    assert reason_code(reasons["train/All Dangling"]) == Reason.BROKEN_LINK.value
    assert reason_code(reasons["test/Loop"]) == Reason.SYMLINK_LOOP.value


def test_fma_tracks_behind_broken_links_are_rejected_with_the_link(tmp_path: Path) -> None:
    root = tmp_path / "fma"
    columns = pd.MultiIndex.from_tuples([("set", "split"), ("set", "subset"), ("track", "duration"),
                                         ("track", "genre_top")])
    rows = [["training", "small", 30.0, "Rock"]] * 3
    (root / "fma_metadata").mkdir(parents=True)
    pd.DataFrame(rows, index=pd.Index([2, 5, 10], name="track_id"), columns=columns).to_csv(
        root / "fma_metadata" / "tracks.csv")
    write(fma.audio_path(root, "small", "000002"), format="MP3")
    fma.audio_path(root, "small", "000005").symlink_to("deleted.mp3")
    fma.audio_path(root, "small", "000010").symlink_to("000010.mp3")
    reasons = {c.track_id: c.reason for c in fma.list_fma(root, "small")}
    assert reasons["000002"] is None
    assert reasons["000005"] == f"broken link: {fma.audio_path(root, 'small', '000005')} -> deleted.mp3"
    assert reason_code(reasons["000010"]) == Reason.SYMLINK_LOOP.value
