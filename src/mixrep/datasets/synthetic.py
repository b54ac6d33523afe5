"""The generated synthetic corpus (rule `corpus`) read as a multitrack folder.

``results/corpus/tracks/<track_id>/{mixture,vocals,bass,drums,other}.wav`` holds the audio and
``results/corpus/metadata.parquet`` (columns ``track_id, genre``, optional ``crossed``; more are ignored) the
genres. The ordinary tracks have no split of its own: splits are drawn in the manifest, stratified by genre.
The crossed content x mixing-style tracks (``crossed`` true, ``syn-x<k>-<style>``) get the split ``crossed``
(never train/val/test: they are held out of every training and rating stage) and, as genre, their mixing
style (``style_genre``; their content genre stays in the corpus metadata). A track the metadata lists without
a folder is rejected ("missing file"); a folder the metadata does not list keeps the genre ``unknown``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from mixrep.datasets.multitrack import list_multitrack
from mixrep.datasets.records import Candidate, DatasetError, Reason
from mixrep.stems import MIXTURE, track_dirname

SOURCE = "synthetic"
CROSSED_SPLIT = "crossed"


def tracks_dir_of(metadata_path: str | Path) -> Path:
    """The corpus' track folders sit beside its metadata: <corpus>/tracks/."""
    return Path(metadata_path).parent / "tracks"


def read_metadata(metadata_path: str | Path) -> pd.DataFrame:
    """track_id, genre and `crossed` (a track of the crossed set; False for corpora made before it)."""
    path = Path(metadata_path)
    if not path.is_file():
        raise DatasetError(f"{path}: corpus metadata not found (run the `corpus` rule first)")
    table = pd.read_parquet(path)
    missing = {"track_id", "genre"} - set(table.columns)
    if missing:
        raise DatasetError(f"{path}: missing columns {sorted(missing)}")
    if table["track_id"].duplicated().any():
        dup = sorted(table.loc[table["track_id"].duplicated(), "track_id"].astype(str))[:5]
        raise DatasetError(f"{path}: duplicate track ids {dup}")
    out = table[["track_id", "genre"]].astype(str)
    out["crossed"] = table["crossed"].astype(bool) if "crossed" in table.columns else False
    return out


def _split(crossed: bool) -> str | None:
    """The corpus' own split of a track: `crossed` for the crossed set, None (drawn later) for the others."""
    return CROSSED_SPLIT if crossed else None


def list_synthetic(metadata_path: str | Path, tracks_dir: str | Path | None = None) -> list[Candidate]:
    """One candidate per track the metadata lists or the tracks folder holds."""
    tracks_dir = Path(tracks_dir) if tracks_dir is not None else tracks_dir_of(metadata_path)
    meta = read_metadata(metadata_path)
    # The corpus names each folder by its track id (ids it makes are plain names); a folder named
    # `track_dirname(id)` is matched too, for corpora whose ids need it.
    by_folder = {track_dirname(tid): (tid, genre) for tid, genre in zip(meta["track_id"], meta["genre"])}
    by_folder.update({tid: (tid, genre) for tid, genre in zip(meta["track_id"], meta["genre"])})
    found = list_multitrack(tracks_dir, source=SOURCE, genres={d: g for d, (_, g) in by_folder.items()},
                            use_split_folders=False) if tracks_dir.is_dir() else []
    split_of = {tid: _split(bool(c)) for tid, c in zip(meta["track_id"], meta["crossed"])}
    candidates = []
    for c in found:
        tid = by_folder.get(c.track_id, (c.track_id, None))[0]
        candidates.append(replace(c, track_id=tid, split=split_of.get(tid)))
    seen = {c.track_id for c in candidates}
    for tid, genre in zip(meta["track_id"], meta["genre"]):
        if tid not in seen:
            split = split_of[tid]
            folder = tracks_dir / tid
            candidates.append(Candidate(
                track_id=tid, source=SOURCE, path=str(folder / f"{MIXTURE}.wav"), genre=genre, split=split,
                stems_dir=str(folder), reason=Reason.MISSING_FILE.with_detail(f"{folder} not found")))
    return sorted(candidates, key=lambda c: c.track_id)
