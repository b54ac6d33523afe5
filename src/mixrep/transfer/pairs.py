"""Which tracks are transferred: (source, target) pairs from the config or from cross-genre test tracks.

By default each configured genre pair (e.g. jazz -> pop) resolves to the first test-split track (sorted by id)
of each genre, so the choice is deterministic and never touches training data. A pair that cannot be
resolved is reported with its reason; the others go on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mixrep.stems import track_dirname
from mixrep.tables import read_table


@dataclass(frozen=True)
class Pair:
    """One transfer: the source's stems are processed towards the target's style."""

    source: str
    target: str
    source_genre: str
    target_genre: str

    @property
    def name(self) -> str:
        return f"{track_dirname(self.source)}__to__{track_dirname(self.target)}"


@dataclass(frozen=True)
class Skipped:
    """A requested pair that could not be used, and why."""

    request: str
    reason: str


def _usable(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    missing = {"track_id", "genre", "split", "status"} - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks columns {sorted(missing)}")
    ok = manifest[(manifest["status"] == "ok") & (manifest["split"] == split)]
    return ok.sort_values("track_id")


def resolve_pairs(manifest: pd.DataFrame, pairs: Iterable[Iterable[str]] | None = None,
                  genre_pairs: Iterable[Iterable[str]] = (), split: str = "test",
                  available: set[str] | None = None) -> tuple[list[Pair], list[Skipped]]:
    """Explicit track pairs if given, else genre pairs resolved on `split`; tracks must be in `available`.

    When no configured genre pair resolves (a small corpus without those genres), the first test tracks of
    the first two genres present are paired, so the stage still produces a transfer. A source that knows one
    genre only (a folder of audio without a genre CSV: every track `unknown`) pairs its first two tracks of
    `split`: a transfer between two mixes, not across genres, and said so in `skipped`.
    """
    ok = manifest[manifest["status"] == "ok"] if "status" in manifest.columns else manifest
    genre_of = dict(zip(ok["track_id"].astype(str), ok["genre"].astype(str)))
    result: list[Pair] = []
    skipped: list[Skipped] = []

    def usable(track_id: str) -> str | None:
        if track_id not in genre_of:
            return "not an ok track of the manifest"
        if available is not None and track_id not in available:
            return "no stems in the stems index"
        return None

    if pairs:
        for source, target in (tuple(p) for p in pairs):
            reason = usable(source) or usable(target)
            if reason:
                skipped.append(Skipped(f"{source} -> {target}", reason))
                continue
            result.append(Pair(source, target, genre_of[source], genre_of[target]))
        return result, skipped

    pool = _usable(manifest, split)
    if available is not None:
        pool = pool[pool["track_id"].astype(str).isin(available)]
    first: dict[str, str] = {}
    for track_id, genre in zip(pool["track_id"].astype(str), pool["genre"].astype(str)):
        first.setdefault(genre, track_id)
    for source_genre, target_genre in (tuple(p) for p in genre_pairs):
        lacking = [g for g in (source_genre, target_genre) if g not in first]
        if lacking:
            skipped.append(Skipped(f"{source_genre} -> {target_genre}",
                                   f"no {split}-split track with stems of genre {', '.join(lacking)}"))
            continue
        result.append(Pair(first[source_genre], first[target_genre], source_genre, target_genre))
    if not result and len(first) >= 2:
        (g1, t1), (g2, t2) = sorted(first.items())[:2]
        result.append(Pair(t1, t2, g1, g2))
        skipped.append(Skipped("fallback", f"no configured genre pair resolved; paired {g1} -> {g2}"))
    elif not result and len(pool) >= 2:
        (t1, g1), (t2, g2) = list(zip(pool["track_id"].astype(str), pool["genre"].astype(str)))[:2]
        result.append(Pair(t1, t2, g1, g2))
        skipped.append(Skipped("fallback", f"fewer than two genres among the {split}-split tracks with stems; "
                                           f"paired the first two tracks ({t1} -> {t2}), not a cross-genre transfer"))
    return result, skipped


def load_stem_dirs(index_paths: Iterable[str | Path]) -> dict[str, str]:
    """track_id -> stem_dir from every shard's stems index."""
    dirs: dict[str, str] = {}
    for path in index_paths:
        table = read_table(path, "stems index", ("track_id", "stem_dir"))
        dirs.update(zip(table["track_id"].astype(str), table["stem_dir"].astype(str)))
    return dirs
