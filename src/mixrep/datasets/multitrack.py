"""Multitrack folders: one folder per track holding the mixture and its four true stems.

Layout (MUSDB18-HQ)::

    <root>/[train|test/]<track>/mixture.wav, vocals.wav, bass.wav, drums.wav, other.wav   (.wav or .flac)

A folder counts as a track when it holds any of these five files. The track id is the folder's path
relative to the root (``train/Actions - One Minute Smile``). MUSDB's own split is kept: ``train/`` and
``test/`` subfolders name the split, and the 14 tracks MUSDB's reference loader (sigsep ``musdb``,
``configs/mus.yaml``) holds out of ``train`` for validation go to ``val``. Tracks outside such folders get
no split here (drawn later, stratified by genre). A folder missing its mixture or a stem is rejected, and
so is one whose mixture or stem is a dangling link, a link loop or not a regular file
(`mixrep.datasets.entries`): such an entry still makes its folder a track, so the folder gets its row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from mixrep.datasets.entries import entry_problem
from mixrep.datasets.folder import UNKNOWN_GENRE, read_genre_csv, require_root
from mixrep.datasets.records import Candidate, Reason
from mixrep.stems import MIXTURE, STEMS

EXTENSIONS: tuple[str, ...] = (".wav", ".flac")
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "test": "test", "val": "val", "valid": "val",
                                 "validation": "val"}
MUSDB_VALIDATION: frozenset[str] = frozenset({
    "Actions - One Minute Smile", "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies", "Patrick Talbot - A Reason To Leave", "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero", "Fergessen - Nos Palpitants", "Leaf - Summerghost",
    "Skelpolu - Human Mistakes", "Young Griffo - Pennies", "ANiMAL - Rockshow", "James May - On The Line",
    "Meaxic - Take A Step", "Traffic Experiment - Sirens",
})
_NAMES = {f"{name}{ext}" for name in (MIXTURE, *STEMS) for ext in EXTENSIONS}


def find_track_dirs(root: Path) -> list[Path]:
    """Folders under `root` that hold a mixture or a stem entry (sorted; a dangling link counts)."""
    return sorted({path.parent for path in root.rglob("*")
                   if path.name.lower() in _NAMES and (path.is_symlink() or not path.is_dir())
                   and not any(part.startswith(".") for part in path.relative_to(root).parts)})


def folder_split(rel: Path) -> str | None:
    """MUSDB's split of a track folder from its first path component (None when it has none)."""
    if len(rel.parts) < 2:
        return None
    split = SPLIT_FOLDERS.get(rel.parts[0].lower())
    if split == "train" and rel.name in MUSDB_VALIDATION:
        return "val"
    return split


def _find(track_dir: Path, name: str) -> Path | None:
    for ext in EXTENSIONS:
        for candidate in (track_dir / f"{name}{ext}", track_dir / f"{name}{ext.upper()}"):
            if candidate.is_symlink() or candidate.is_file():
                return candidate
    return None


def track_candidate(track_dir: Path, root: Path, *, source: str, genre: str,
                    use_split_folders: bool = True) -> Candidate:
    """The candidate of one track folder; rejected when the mixture or a stem is missing."""
    rel = track_dir.relative_to(root)
    mixture = _find(track_dir, MIXTURE)
    stems = {name: _find(track_dir, name) for name in STEMS}
    candidate = Candidate(
        track_id=rel.as_posix(), source=source, path=str(mixture or track_dir / f"{MIXTURE}.wav"),
        genre=genre, split=folder_split(rel) if use_split_folders else None, stems_dir=str(track_dir),
        stem_files=tuple((name, str(path)) for name, path in stems.items() if path is not None),
    )
    if mixture is None:
        return candidate.rejected(Reason.MISSING_FILE.with_detail(f"no {MIXTURE}.wav/.flac in {track_dir}"))
    absent = [name for name, path in stems.items() if path is None]
    if absent:
        return candidate.rejected(Reason.MISSING_STEM.with_detail(f"{', '.join(absent)} not in {track_dir}"))
    for path in (mixture, *stems.values()):
        problem = entry_problem(path)
        if problem is not None:
            return candidate.rejected(problem)
    return candidate


def list_multitrack(root: str | Path | None, genre_csv: str | Path | None = None, *,
                    source: str = "multitrack", genres: Mapping[str, str] | None = None,
                    use_split_folders: bool = True) -> list[Candidate]:
    """One candidate per track folder under `root`; genres from `genres` or a ``path,genre`` CSV."""
    root = require_root(root, source)
    genre_of = dict(genres or {})
    if genre_csv:
        genre_of.update(read_genre_csv(genre_csv, root))
    return [track_candidate(d, root, source=source, genre=genre_of.get(d.relative_to(root).as_posix(),
                                                                       UNKNOWN_GENRE),
                            use_split_folders=use_split_folders)
            for d in find_track_dirs(root)]
