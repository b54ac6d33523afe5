"""Held-out variant retrieval top-1: does a segment find another segment of its own track × variant?

For every held-out item, two segments from different times are embedded (query, key; same draws for every
model compared). A query is correct when its nearest key by cosine similarity is the key of the same item,
searched among the keys of all variants of all held-out tracks (`top1`, chance 1/K) and among the variants
of its own track only (`top1_within_track`, chance 1/variants). When the items carry recipe ids
(mixrep.pretrain.data.attach_recipe_ids), also `across_top1`: the query window of an item retrieves, among the
query windows of OTHER tracks' items, one with the same fault recipe (mixrep.evaluation.retrieval), the score
that same_recipe positives train for and that content cannot reach.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mixrep.pretrain.data import ItemSet, sample_pair_starts, sample_pair_windows
from mixrep.pretrain.embed import encode_segments
from mixrep.pretrain.mels import MelSource


def retrieval_top1(model: nn.Module, bank: MelSource, items: ItemSet, length: int, seed: int,
                   device: torch.device, batch_size: int = 64) -> dict[str, float | None]:
    """top1, top1_within_track and their chance levels over `items` (deterministic given `seed`)."""
    if len(items) < 2:  # nothing to retrieve among: reported as null
        return {"n_items": len(items), "top1": None, "top1_within_track": None, "chance": None,
                "chance_within_track": None}
    rng = np.random.default_rng([seed, 0x7E7])
    positions = np.arange(len(items))
    if items.has_segments:  # two distinct grid windows, each conditioned on its own features
        a, b = sample_pair_windows(np.diff(items.seg_offsets), rng)
        rows_a, rows_b = items.segment_rows(positions, a), items.segment_rows(positions, b)
        queries = encode_segments(model, bank, items, positions, items.seg_starts[rows_a], length, device,
                                  batch_size, rows_a)
        keys = encode_segments(model, bank, items, positions, items.seg_starts[rows_b], length, device,
                               batch_size, rows_b)
    else:
        first, second = sample_pair_starts(items.num_frames, length, rng)
        queries = encode_segments(model, bank, items, positions, first, length, device, batch_size)
        keys = encode_segments(model, bank, items, positions, second, length, device, batch_size)
    scores: dict[str, float | None] = dict(retrieval_scores(queries, keys, items.track_id))
    if items.recipe_id is not None:
        scores.update(across_scores(queries, items))
    return scores


def across_scores(embeddings: np.ndarray, items: ItemSet) -> dict[str, float | None]:
    """across_top1, its chance level and query count over `items` (None where no recipe recurs on two tracks)."""
    from mixrep.evaluation.retrieval import across_content_units

    units, info = across_content_units(embeddings, items.track_id, items.variant_id, items.recipe_id, "", 0)
    return {"n_across": info["n_queries"], "across_top1": float(units["y_pred"].mean()) if len(units) else None,
            "chance_across": info["chance"]}


def retrieval_scores(queries: np.ndarray, keys: np.ndarray, track_id: np.ndarray,
                     block: int = 1024) -> dict[str, float]:
    """Top-1 accuracy of query i retrieving key i by cosine similarity (all keys / same-track keys).

    Computed over blocks of `block` queries, so memory is O(block × K) instead of the K × K similarity
    matrix (86 GB for FMA-large's validation split). Ties go to the lowest key index, as `argmax` does, so
    the result equals the dense computation exactly (tests/test_pretrain_retrieval.py).
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    k = keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    track_id = np.asarray(track_id)
    codes = np.unique(track_id, return_inverse=True)[1].reshape(-1)
    counts = np.bincount(codes)
    hits = hits_within = 0
    for lo in range(0, len(q), block):
        hi = min(len(q), lo + block)
        sims = q[lo:hi] @ k.T  # (block, K)
        target = np.arange(lo, hi)
        hits += int(np.count_nonzero(sims.argmax(axis=1) == target))
        within = np.where(codes[lo:hi, None] == codes[None, :], sims, -np.inf)
        hits_within += int(np.count_nonzero(within.argmax(axis=1) == target))
    n = len(q)
    return {"n_items": int(n),
            "top1": hits / n,
            "top1_within_track": hits_within / n,
            "chance": 1.0 / n,
            "chance_within_track": float(np.mean(1.0 / counts[codes]))}
