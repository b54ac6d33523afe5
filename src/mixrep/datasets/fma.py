"""The Free Music Archive (FMA, Defferrard et al. 2017) as laid out by its distribution.

Layout under `dataset.root`::

    fma_metadata/tracks.csv     two-level column header, then a row holding only the index name `track_id`
    fma_metadata/genres.csv     genre_id, #tracks, parent, title, top_level
    fma_<subset>/<first 3 digits>/<6-digit id>.mp3

Subsets nest (small within medium within large): `('set', 'subset')` holds the smallest subset a track
belongs to. `full` lists every track, with untrimmed audio under `fma_full/`. FMA's own artist-disjoint
split (`('set', 'split')`) is kept, so no artist is in two splits.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from mixrep.datasets.entries import entry_problem
from mixrep.datasets.records import Candidate, DatasetError, Reason

SUBSETS: tuple[str, ...] = ("small", "medium", "large")
SPLIT_NAMES: dict[str, str] = {"training": "train", "validation": "val", "test": "test"}
CLIP_SECONDS = 30.0  # small / medium / large hold 30 s clips of each track
_COLUMNS = (("set", "subset"), ("set", "split"), ("track", "genre_top"), ("track", "duration"))


def track_id(number: int | str) -> str:
    """FMA's six-digit track id."""
    return f"{int(number):06d}"


def audio_path(root: str | Path, subset: str, tid: str) -> Path:
    """Where FMA puts the audio of track `tid` in `subset` (fma_<subset>/<first 3 digits>/<id>.mp3)."""
    return Path(root) / f"fma_{subset}" / tid[:3] / f"{tid}.mp3"


def load_tracks(path: str | Path) -> pd.DataFrame:
    """tracks.csv with its two-level header, reduced to the columns mixrep needs."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: FMA metadata not found (expected fma_metadata/tracks.csv under the root)")
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: not FMA's tracks.csv layout ({exc})") from None
    missing = [f"{a}.{b}" for a, b in _COLUMNS if (a, b) not in tracks.columns]
    if missing:
        raise DatasetError(f"{path}: missing columns {missing} (expected FMA's two-level header)")
    return tracks.loc[:, list(_COLUMNS)]


def top_genres(root: str | Path) -> set[str] | None:
    """Titles of FMA's top-level genres from genres.csv (None when the file is absent)."""
    path = Path(root) / "fma_metadata" / "genres.csv"
    if not path.is_file():
        return None
    genres = pd.read_csv(path)
    if not {"title", "parent"} <= set(genres.columns):
        raise DatasetError(f"{path}: expected columns title and parent")
    return set(genres.loc[genres["parent"] == 0, "title"].astype(str))


def check_genres(root: str | Path, wanted: list[str] | None) -> None:
    """Stop on a configured genre that FMA does not have (a typo would silently select nothing)."""
    known = top_genres(root)
    if not wanted or known is None:
        return
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise DatasetError(f"dataset.genres: {unknown} are not FMA top-level genres; known: {sorted(known)}")


def in_subset(smallest: str, subset: str) -> bool:
    """Whether a track whose smallest subset is `smallest` belongs to `subset` (full = every track)."""
    if subset == "full":
        return True
    if smallest not in SUBSETS:
        return False
    return SUBSETS.index(smallest) <= SUBSETS.index(subset)


def list_fma(root: str | Path, subset: str = "small") -> list[Candidate]:
    """One candidate per track of `subset`; a listed track without a readable audio file is rejected here."""
    root = Path(root)
    if subset not in (*SUBSETS, "full"):
        raise DatasetError(f"dataset.fma_subset: {subset!r} is not one of {[*SUBSETS, 'full']}")
    tracks = load_tracks(root / "fma_metadata" / "tracks.csv")
    candidates = []
    for number, row in tracks.iterrows():
        if not in_subset(str(row[("set", "subset")]), subset):
            continue
        tid = track_id(number)
        genre = row[("track", "genre_top")]
        listed = float(row[("track", "duration")])
        if subset != "full" and not math.isnan(listed):
            listed = min(listed, CLIP_SECONDS)
        path = audio_path(root, subset, tid)
        candidate = Candidate(
            track_id=tid, source="fma", path=str(path),
            genre=str(genre) if isinstance(genre, str) and genre else "unknown",
            split=SPLIT_NAMES.get(str(row[("set", "split")])),
            expected_duration_s=None if math.isnan(listed) or listed <= 0 else listed,
        )
        problem = entry_problem(path)  # missing file, broken link, symlink loop, not a regular file
        if problem is not None:
            candidate = candidate.rejected(problem)
        candidates.append(candidate)
    return candidates
