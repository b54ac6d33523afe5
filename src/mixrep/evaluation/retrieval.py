"""Retrieval within and across content, as units tables (docs/evaluation.md, "Units").

- `retrieval_within`: the query view of item i must retrieve the key view of item i (another window of the
  same track x variant) among the key views of all items. Content is shared by the pair, so a model can
  score here by recognising the song; it is the metric the pretraining validates on.
- `retrieval_across`: an item (recipe_id > 0) must retrieve, among the items of OTHER tracks, one carrying
  the same fault recipe (recipes.parquet `recipe_id`, a pool shared by all tracks). No content is shared by
  a hit, so only the mix treatment can score here.

Both are pure numpy over blocks of queries (memory O(block x K), not K x K), ties to the lowest key index
as `argmax` does, so a blockwise result equals the dense one exactly. One row per query: unit = track_id,
item = "<track>:<variant>", y_true 1, y_pred = hit (0/1); the metric is the mean of y_pred.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

UNIT_COLUMNS: tuple[str, ...] = ("source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred")


def _unit_rows(source: str, seed: int, metric: str, track_id: np.ndarray, variant_id: np.ndarray,
               hits: np.ndarray) -> pd.DataFrame:
    track = np.asarray(track_id).astype(str)
    variant = np.asarray(variant_id).astype(np.int64)
    n = len(track)
    return pd.DataFrame({"source": [source] * n, "seed": np.full(n, int(seed), np.int64), "metric": [metric] * n,
                         "unit": track, "item": [f"{t}:{v}" for t, v in zip(track, variant)], "group": [""] * n,
                         "y_true": np.ones(n, np.float64), "y_pred": np.asarray(hits, np.float64)},
                        columns=list(UNIT_COLUMNS))


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def within_content_hits(queries: np.ndarray, keys: np.ndarray, block: int = 1024) -> np.ndarray:
    """Per query i: 1 if its nearest key by cosine similarity (ties: lowest index) is key i, else 0."""
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    if len(queries) != len(keys):
        raise ValueError(f"{len(queries)} queries but {len(keys)} keys: one key view per item is needed")
    q, k = _normalise(queries), _normalise(keys)
    hits = np.zeros(len(q), dtype=np.int64)
    for lo in range(0, len(q), block):
        hi = min(len(q), lo + block)
        hits[lo:hi] = (q[lo:hi] @ k.T).argmax(axis=1) == np.arange(lo, hi)
    return hits


def within_content_units(queries: np.ndarray, keys: np.ndarray, track_id: np.ndarray, variant_id: np.ndarray,
                         source: str, seed: int, block: int = 1024) -> pd.DataFrame:
    """`retrieval_within` units: query view i retrieves key view i among all keys (= retrieval_scores' top1)."""
    hits = within_content_hits(queries, keys, block)
    return _unit_rows(source, seed, "retrieval_within", track_id, variant_id, hits)


def across_content_units(embeddings: np.ndarray, track_id: np.ndarray, variant_id: np.ndarray,
                         recipe_id: np.ndarray, source: str, seed: int, block: int = 1024
                         ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """`retrieval_across` units and info {n_queries, n_candidates, chance}.

    Candidates are the items with recipe_id > 0 (the reference and items without a pool id take no part).
    A query is a candidate whose recipe occurs on at least one other track; its nearest neighbour by cosine
    similarity among the candidates of OTHER tracks is a hit when it carries the same recipe. `chance` is
    the mean over queries of (same-recipe candidates on other tracks) / (candidates on other tracks): what
    an embedding blind to the mix treatment scores on average.
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    track = np.asarray(track_id).astype(str)
    variant = np.asarray(variant_id).astype(np.int64)
    recipe = np.asarray(recipe_id).astype(np.int64)
    if not len(track) == len(variant) == len(recipe) == len(embeddings):
        raise ValueError("embeddings, track_id, variant_id and recipe_id must have one row per item")
    candidates = np.flatnonzero(recipe > 0)
    if not len(candidates):
        info0: dict[str, Any] = {"n_queries": 0, "n_candidates": 0, "chance": None}
        return _unit_rows(source, seed, "retrieval_across", track[:0], variant[:0], np.zeros(0)), info0
    tracks_c = np.unique(track[candidates], return_inverse=True)[1].reshape(-1)
    recipe_c = recipe[candidates]
    # per candidate, from counts (no K x K matrix): same-recipe candidates on other tracks, all on other tracks
    recipe_codes = np.unique(recipe_c, return_inverse=True)[1].reshape(-1)
    pair_codes = np.unique(np.stack([recipe_codes, tracks_c]), axis=1, return_inverse=True)[1].reshape(-1)
    positives = np.bincount(recipe_codes)[recipe_codes] - np.bincount(pair_codes)[pair_codes]
    pool = len(candidates) - np.bincount(tracks_c)[tracks_c]
    is_query = positives > 0
    queries = np.flatnonzero(is_query)
    info: dict[str, Any] = {"n_queries": int(len(queries)), "n_candidates": int(len(candidates)),
                            "chance": float(np.mean(positives[queries] / pool[queries])) if len(queries) else None}
    if not len(queries):
        return _unit_rows(source, seed, "retrieval_across", track[:0], variant[:0], np.zeros(0)), info
    x = _normalise(np.asarray(embeddings)[candidates])
    hits = np.zeros(len(queries), dtype=np.int64)
    for lo in range(0, len(queries), block):
        rows = queries[lo:lo + block]
        sims = x[rows] @ x.T
        sims[tracks_c[rows, None] == tracks_c[None, :]] = -np.inf  # own track (itself included) excluded
        nearest = sims.argmax(axis=1)
        hits[lo:lo + block] = recipe_c[nearest] == recipe_c[rows]
    info["value"] = float(hits.mean())
    chosen = candidates[queries]
    return _unit_rows(source, seed, "retrieval_across", track[chosen], variant[chosen], hits), info
