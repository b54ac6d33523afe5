"""Real listening-test ratings from a CSV table `mix_path, song_id, score[, rater_id]`.

The rated mixes themselves are the dataset (`dataset.source: folder`, `dataset.root` = the folder of rated
mixes): they are separated, featurised and embedded by the normal pipeline, and `mix_path` (relative to that
root) is the manifest's `track_id` of the mix; its embedding is variant 0 of that track. Every row either enters
the table or is listed in `rejected.csv` with its row number and reason: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from mixrep.ratings.table import SCALES, finish_table

REQUIRED_COLUMNS: tuple[str, ...] = ("mix_path", "song_id", "score")
ABSOLUTE_RANGE: tuple[float, float] = (0.0, 100.0)
REJECTED_COLUMNS: tuple[str, ...] = ("row", "mix_path", "rater_id", "reason")


@dataclass(frozen=True)
class Rejection:
    """A CSV row that was not used: `row` is its line in the file (the header is line 1)."""

    row: int
    mix_path: str
    rater_id: str
    reason: str


@dataclass(frozen=True)
class LoadedRatings:
    """Individual ratings that passed every check, and the rows that did not."""

    individual: pd.DataFrame
    rejected: list[Rejection]

    def rejected_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rejected], columns=list(REJECTED_COLUMNS))


def load_ratings_csv(csv_path: str | Path, *, dataset_root: str | Path, manifest: pd.DataFrame,
                     scale: str = "absolute") -> LoadedRatings:
    """Read and check a ratings CSV; see the module docstring and docs/evaluation.md (Real ratings).

    Raises ValueError (naming the file) when the file is unreadable, lacks a required column, or no row is
    usable; row-level problems become `Rejection`s.
    """
    csv_path = Path(csv_path)
    if scale not in SCALES:
        raise ValueError(f"ratings.scale must be one of {list(SCALES)}, got {scale!r}")
    if not csv_path.is_file():
        raise ValueError(f"ratings CSV {csv_path} does not exist")
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"ratings CSV {csv_path}: cannot be parsed ({error})") from None
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"ratings CSV {csv_path}: missing column(s) {missing}; expected "
                         f"{list(REQUIRED_COLUMNS)} and optionally rater_id (found {list(raw.columns)})")
    if "rater_id" not in raw.columns:
        raw["rater_id"] = "rater-0"  # one anonymous rater: one score per mix

    tracks = _manifest_lookup(manifest)
    root = Path(dataset_root)
    accepted: list[dict] = []
    rejected: list[Rejection] = []
    first_row: dict[tuple[str, str], int] = {}
    song_of_mix: dict[str, tuple[str, int]] = {}
    for index, record in enumerate(raw.to_dict("records")):
        row = index + 2
        mix_path = str(PurePosixPath(record["mix_path"].strip())) if record["mix_path"].strip() else ""
        rater = record["rater_id"].strip() or "rater-0"
        song = record["song_id"].strip()
        reason = _row_problem(record["score"], mix_path, song, scale, root, tracks)
        if reason is None and (mix_path, rater) in first_row:
            reason = f"duplicate of row {first_row[(mix_path, rater)]} (same mix_path and rater_id)"
        if reason is None and mix_path in song_of_mix and song_of_mix[mix_path][0] != song:
            other, other_row = song_of_mix[mix_path]
            reason = f"song_id {song!r} conflicts with {other!r} given for this mix_path in row {other_row}"
        if reason is not None:
            rejected.append(Rejection(row, mix_path, rater, reason))
            continue
        first_row[(mix_path, rater)] = row
        song_of_mix.setdefault(mix_path, (song, row))
        accepted.append({"row": row, "mix_id": mix_path, "song_id": song, "track_id": mix_path,
                         "variant_id": 0, "rater_id": rater, "score": float(record["score"])})
    individual = pd.DataFrame(accepted, columns=["row", "mix_id", "song_id", "track_id", "variant_id",
                                                 "rater_id", "score"])
    if scale == "relative":
        individual, lonely = _drop_single_ratings(individual)
        rejected += lonely
    if individual.empty:
        raise ValueError(f"ratings CSV {csv_path}: no usable row ({len(rejected)} rejected, first: "
                         f"{rejected[0].reason if rejected else 'the file is empty'})")
    rejected.sort(key=lambda r: r.row)
    return LoadedRatings(individual.drop(columns="row").reset_index(drop=True), rejected)


def csv_table(loaded: LoadedRatings, *, scale: str, fractions: Sequence[float], seed: int) -> pd.DataFrame:
    """The contract table of real ratings (`simulated=False`)."""
    return finish_table(loaded.individual, scale=scale, fractions=fractions, seed=seed, simulated=False)


def _manifest_lookup(manifest: pd.DataFrame) -> dict[str, str | None]:
    """track_id -> None when usable, else the manifest's rejection reason."""
    lookup: dict[str, str | None] = {}
    for track_id, status, reason in zip(manifest["track_id"], manifest["status"], manifest["reason"]):
        lookup[str(PurePosixPath(str(track_id)))] = None if status == "ok" else str(reason or "rejected")
    return lookup


def _row_problem(score_text: str, mix_path: str, song: str, scale: str, root: Path,
                 tracks: dict[str, str | None]) -> str | None:
    """Why one row cannot be used, or None."""
    if not mix_path:
        return "empty mix_path"
    if not song:
        return "empty song_id"
    try:
        score = float(score_text)
    except ValueError:
        return f"score {score_text!r} is not a number"
    if not np.isfinite(score):
        return f"score {score_text!r} is not finite"
    low, high = ABSOLUTE_RANGE
    if scale == "absolute" and not low <= score <= high:
        return f"score {score:g} outside the absolute range {low:g}..{high:g}"
    if not (root / mix_path).is_file():
        return f"audio file {root / mix_path} not found"
    if mix_path not in tracks:
        return f"mix_path {mix_path!r} is not a track of the manifest (dataset.root must be the rated folder)"
    if tracks[mix_path] is not None:
        return f"the manifest rejected this audio file: {tracks[mix_path]}"
    return None


def _drop_single_ratings(individual: pd.DataFrame) -> tuple[pd.DataFrame, list[Rejection]]:
    """Relative scale: a rater's only rating of a song has no z-score within that song."""
    counts = individual.groupby(["rater_id", "song_id"])["score"].transform("count")
    lonely = individual[counts < 2]
    rejections = [Rejection(int(r.row), r.mix_id, r.rater_id,
                            f"relative scale: rater {r.rater_id!r} rated only this mix of song {r.song_id!r}")
                  for r in lonely.itertuples()]
    return individual[counts >= 2], rejections
