"""Any directory of audio files, searched recursively, with genres from an optional CSV.

Track ids are paths relative to the root (``rock/song.wav``), stable however the root is mounted.
The CSV (`dataset.genre_csv`) has columns ``path,genre``; its paths are relative to the root (absolute
paths inside the root are accepted too). A CSV row whose file does not exist becomes a rejected row
("missing file") rather than vanishing; a file the CSV does not name gets the genre ``unknown``.

Every entry with an audio extension gets one row, links included (`mixrep.datasets.entries`): a dangling
link is rejected as "broken link", a link loop as "symlink loop", a non-file (FIFO, a link to a folder) as
"not a regular file". A link to a readable file is a file; when it reaches a file that another entry
already is (its target inside the root, a hard link), the link is rejected as "duplicate" of that entry,
so one recording never counts twice nor sits in two splits. Symlinked folders are not descended into
(as `Path.rglob`): they could loop, or list the same files twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mixrep.datasets.entries import duplicate_of, entry_problem
from mixrep.datasets.records import Candidate, DatasetError, Reason

AUDIO_EXTENSIONS: frozenset[str] = frozenset({".wav", ".flac", ".mp3", ".ogg"})
UNKNOWN_GENRE = "unknown"


def require_root(root: str | Path | None, source: str) -> Path:
    """The data root as a Path, or a clear error when it is unset or absent."""
    if not root:
        raise DatasetError(f"dataset.root must be set for source {source!r}")
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"dataset.root: {path} is not a directory")
    return path


def relative_id(path: str | Path, root: Path) -> str:
    """The POSIX path of `path` relative to `root` (a track id); `path` may be relative or absolute."""
    path = Path(path)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            raise DatasetError(f"{path} is not inside the data root {root}") from None
    return path.as_posix()


def read_genre_csv(csv_path: str | Path, root: Path) -> dict[str, str]:
    """Track id (path relative to the root) -> genre, from a ``path,genre`` CSV."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"dataset.genre_csv: {csv_path} not found")
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"path", "genre"} - set(table.columns)
    if missing:
        raise DatasetError(f"{csv_path}: missing columns {sorted(missing)} (expected path,genre)")
    genres: dict[str, str] = {}
    for path, genre in zip(table["path"], table["genre"]):
        key = relative_id(path.strip(), root)
        if key in genres and genres[key] != genre:
            raise DatasetError(f"{csv_path}: {key!r} is listed with two genres ({genres[key]!r}, {genre!r})")
        genres[key] = genre.strip() or UNKNOWN_GENRE
    return genres


def find_audio(root: Path) -> list[str]:
    """Relative POSIX paths of every entry under `root` that looks like audio (sorted, hidden skipped).

    Entries, not only readable files: dangling links, link loops and other non-files are listed too,
    so that each gets its rejected row. Real folders named like audio (``x.wav/``) are folders.
    """
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in AUDIO_EXTENSIONS and (path.is_symlink() or not path.is_dir()):
            found.append(rel.as_posix())
    return sorted(found)


def list_folder(root: str | Path | None, genre_csv: str | Path | None = None) -> list[Candidate]:
    """One candidate per audio entry under `root`, plus one rejected row per CSV entry without a file."""
    root = require_root(root, "folder")
    genres = read_genre_csv(genre_csv, root) if genre_csv else {}
    files = find_audio(root)
    candidates = []
    problems = {rel: entry_problem(root / rel) for rel in files}
    duplicates = duplicate_of({rel: root / rel for rel in files if problems[rel] is None})
    for rel in files:
        candidate = Candidate(track_id=rel, source="folder", path=str(root / rel),
                              genre=genres.get(rel, UNKNOWN_GENRE))
        if problems[rel] is not None:
            candidate = candidate.rejected(problems[rel])
        elif rel in duplicates:
            candidate = candidate.rejected(Reason.DUPLICATE.with_detail(
                f"{rel} is the same file as {duplicates[rel]}"))
        candidates.append(candidate)
    present = set(files)
    for rel in sorted(set(genres) - present):
        candidates.append(Candidate(track_id=rel, source="folder", path=str(root / rel), genre=genres[rel],
                                    reason=Reason.MISSING_FILE.with_detail(f"{root / rel} (listed in "
                                                                           f"{genre_csv}) not found")))
    return sorted(candidates, key=lambda c: c.track_id)
