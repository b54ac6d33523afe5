"""The rated-mix table shared by simulated and real listening tests: aggregation, normalisation, song splits.

Both sources produce *individual* ratings first (one row per rater × mix, columns of `RATING_COLUMNS`); this
module turns them into `results/ratings/ratings.parquet` (docs/CONTRACTS.md), one row per mix:
`mix_id, song_id, track_id, variant_id, score, score_sd, n_raters, split, simulated`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

RATING_COLUMNS: tuple[str, ...] = ("mix_id", "song_id", "track_id", "variant_id", "rater_id", "score")
TABLE_COLUMNS: tuple[str, ...] = ("mix_id", "song_id", "track_id", "variant_id", "score", "score_sd",
                                  "n_raters", "split", "simulated")
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


def finish_table(individual: pd.DataFrame, *, scale: str, fractions: Sequence[float], seed: int,
                 simulated: bool) -> pd.DataFrame:
    """Individual ratings -> the contract table (normalised if relative, aggregated, split by song, labelled)."""
    if scale not in SCALES:
        raise ValueError(f"ratings.scale must be one of {list(SCALES)}, got {scale!r}")
    if scale == "relative":
        individual = normalise_relative(individual)
    table = aggregate(individual)
    splits = split_songs(table["song_id"].tolist(), fractions, seed)
    table["split"] = table["song_id"].map(splits)
    table["simulated"] = bool(simulated)
    table["score"] = table["score"].astype(np.float64)
    table["score_sd"] = table["score_sd"].astype(np.float64)
    return table.loc[:, list(TABLE_COLUMNS)].sort_values(["song_id", "variant_id", "mix_id"]).reset_index(drop=True)
