"""The rated-mix table shared by simulated and real listening tests: aggregation, normalisation, song splits.

Both sources produce *individual* ratings first (one row per rater × mix, columns of `RATING_COLUMNS`); this
module turns them into `results/ratings/ratings.parquet` (docs/CONTRACTS.md), one row per mix:
`mix_id, song_id, track_id, variant_id, score, score_sd, n_raters, split, simulated, fold, expected_score,
panel`.

Songs (never mixes) are assigned to K folds, stratified by genre and seeded (`assign_folds`); `split` derives
from the fold (fold 0 test, fold 1 val, the rest train) so a single-split regressor still runs, while
Stage 2's K-fold evaluation (mixrep.evaluation.quality) uses every fold in turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

RATING_COLUMNS: tuple[str, ...] = ("mix_id", "song_id", "track_id", "variant_id", "rater_id", "score")
TABLE_COLUMNS: tuple[str, ...] = ("mix_id", "song_id", "track_id", "variant_id", "score", "score_sd",
                                  "n_raters", "split", "simulated", "fold", "expected_score", "panel")
SPLITS: tuple[str, ...] = ("train", "val", "test")
SCALES: tuple[str, ...] = ("absolute", "relative")


def normalise_relative(ratings: pd.DataFrame) -> pd.DataFrame:
    """z-normalise every rater's scores within each song (relative ratings: only the order inside a song counts).

    A rater who gave every mix of a song the same score contributes zeros for that song (no preference).
    The caller must have removed raters with a single rating in a song (their z-score is undefined).
    """
    grouped = ratings.groupby(["rater_id", "song_id"], sort=False)["score"]
    mean = grouped.transform("mean")
    sd = grouped.transform(lambda s: s.std(ddof=0))
    z = (ratings["score"] - mean) / sd.where(sd > 0, np.inf)
    return ratings.assign(score=z.astype(np.float64))


def aggregate(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per mix: mean score over raters, their spread (`score_sd`, ddof=1; 0 for one rater), `n_raters`."""
    missing = set(RATING_COLUMNS) - set(ratings.columns)
    if missing:
        raise ValueError(f"individual ratings lack columns {sorted(missing)}")
    grouped = ratings.groupby(["mix_id", "song_id", "track_id", "variant_id"], sort=True)["score"]
    table = grouped.agg(score="mean", score_sd=lambda s: float(s.std(ddof=1)) if len(s) > 1 else 0.0,
                        n_raters="count").reset_index()
    table["variant_id"] = table["variant_id"].astype(np.int64)
    table["n_raters"] = table["n_raters"].astype(np.int64)
    return table


def split_songs(songs: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """Assign each song to train / val / test (songs, never mixes, so no song leaks across splits).

    Songs are sorted, shuffled with `seed`, and cut by `fractions` (normalised); every split gets at least one
    song, which needs at least three songs.
    """
    unique = sorted(set(map(str, songs)))
    if len(unique) < 3:
        raise ValueError(f"the rated set has {len(unique)} song(s): train / val / test splits need at least 3")
    weights = np.asarray(fractions, dtype=np.float64)
    if weights.shape != (3,) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"split_fractions must be three non-negative numbers, got {list(fractions)}")
    counts = np.floor(weights / weights.sum() * len(unique)).astype(int)
    counts = np.maximum(counts, 1)
    while counts.sum() > len(unique):  # the floor of one (above) may overshoot: take from the largest split
        counts[np.argmax(counts)] -= 1
    counts[0] += len(unique) - counts.sum()  # the remainder trains
    order = np.random.default_rng(seed).permutation(len(unique))
    labels = np.repeat(np.array(SPLITS), counts)
    return {unique[i]: str(label) for i, label in zip(order, labels)}


def assign_folds(songs: Sequence[str], genres: Mapping[str, str] | None, folds: int, seed: int) -> dict[str, int]:
    """Song -> fold 0..K-1, stratified by genre and deterministic given `seed`.

    Genres are visited in sorted order; within a genre the sorted songs are shuffled with `seed` and dealt
    round-robin, continuing from where the previous genre stopped, so every fold gets each genre's songs as
    evenly as possible and the fold sizes differ by at most one. K is reduced to the number of songs when
    there are fewer; at least 3 songs are needed (test, val and train folds).
    """
    unique = sorted(set(map(str, songs)))
    if len(unique) < 3:
        raise ValueError(f"the rated set has {len(unique)} song(s): test / val / train folds need at least 3")
    if folds < 3:
        raise ValueError(f"ratings.folds must be >= 3 (test, val and train folds), got {folds}")
    k = min(int(folds), len(unique))
    genres = genres or {}
    strata: dict[str, list[str]] = {}
    for song in unique:
        strata.setdefault(str(genres.get(song, "")), []).append(song)
    rng = np.random.default_rng(seed)
    out: dict[str, int] = {}
    position = 0
    for genre in sorted(strata):
        members = strata[genre]
        for index in rng.permutation(len(members)):
            out[members[index]] = position % k
            position += 1
    return out


def split_of_fold(fold: int) -> str:
    """The single split a fold stands for: fold 0 test, fold 1 val, the rest train."""
    return "test" if fold == 0 else "val" if fold == 1 else "train"


def with_folds(table: pd.DataFrame, folds: int, seed: int, genres: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The table with `fold` (re)assigned and `split` derived from it."""
    assignment = assign_folds(table["song_id"].tolist(), genres, folds, seed)
    fold = table["song_id"].astype(str).map(assignment).astype(np.int64)
    return table.assign(fold=fold, split=fold.map(split_of_fold).astype(str))


def finish_table(individual: pd.DataFrame, *, scale: str, fractions: Sequence[float] | None = None, seed: int,
                 simulated: bool, folds: int = 5, genres: Mapping[str, str] | None = None,
                 panel: str | None = None) -> pd.DataFrame:
    """Individual ratings -> the contract table (normalised if relative, aggregated, folds by song, labelled).

    `fractions` is accepted for older callers and ignored: the split derives from the fold. An
    `expected_score` column of the individual ratings (the simulated panel's noiseless score) is kept per
    mix, z-scored within the song on the relative scale (the scores' units); NaN for real ratings.
    `panel` names the model that produced the scores ("ideal" / "severity" simulated, "real").
    """
    del fractions
    if scale not in SCALES:
        raise ValueError(f"ratings.scale must be one of {list(SCALES)}, got {scale!r}")
    expected = None
    if "expected_score" in individual.columns:
        expected = individual.groupby("mix_id", sort=False)["expected_score"].first()
    if scale == "relative":
        individual = normalise_relative(individual)
    table = aggregate(individual)
    table = with_folds(table, folds, seed, genres)
    table["simulated"] = bool(simulated)
    table["score"] = table["score"].astype(np.float64)
    table["score_sd"] = table["score_sd"].astype(np.float64)
    if expected is not None:
        values = table["mix_id"].map(expected).astype(np.float64)
        if scale == "relative":
            grouped = values.groupby(table["song_id"])
            sd = grouped.transform(lambda v: v.std(ddof=0))
            values = (values - grouped.transform("mean")) / sd.where(sd > 0, np.inf)
        table["expected_score"] = values
    else:
        table["expected_score"] = np.nan
    table["panel"] = panel or ("severity" if simulated else "real")
    return table.loc[:, list(TABLE_COLUMNS)].sort_values(["song_id", "variant_id", "mix_id"]).reset_index(drop=True)
