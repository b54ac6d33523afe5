"""Blockwise held-out retrieval equals the dense K × K computation, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.pretrain.retrieval import retrieval_scores


def dense_scores(queries: np.ndarray, keys: np.ndarray, track_id: np.ndarray) -> dict[str, float]:
    """The former implementation: one K × K similarity matrix, argmax (first index wins ties)."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    k = keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    sims = q @ k.T
    target = np.arange(len(q))
    same_track = track_id[:, None] == track_id[None, :]
    within = np.where(same_track, sims, -np.inf)
    return {"n_items": int(len(q)), "top1": float(np.mean(sims.argmax(axis=1) == target)),
            "top1_within_track": float(np.mean(within.argmax(axis=1) == target)),
            "chance": 1.0 / len(q), "chance_within_track": float(np.mean(1.0 / same_track.sum(axis=1)))}


@pytest.mark.parametrize("block", [1, 3, 7, 50, 1000])
def test_blockwise_equals_dense_with_ties(block):
    rng = np.random.default_rng(0)
    track_id = np.repeat(np.array([f"t{i}" for i in range(10)]), rng.integers(1, 6, size=10))
    n = len(track_id)
    keys = rng.normal(size=(n, 6)).round(0)  # integer vectors: many exact cosine ties
    keys[2], keys[7], keys[n - 1] = keys[3], keys[0], keys[n - 2]  # duplicated keys: exact ties
    queries = keys + 0.6 * rng.normal(size=keys.shape).round(0)
    queries[5] = keys[4]  # query 5 ties between key 4 and key 5 if those are equal, else misses
    scores = retrieval_scores(queries, keys, track_id, block=block)
    assert scores == dense_scores(queries, keys, track_id)


def test_ties_go_to_the_lowest_index():
    keys = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    queries = keys.copy()
    scores = retrieval_scores(queries, keys, np.array(["a", "a", "b"]), block=2)
    # query 1 ties keys 0 and 1: argmax picks key 0, so query 1 is a miss, as in the dense computation
    assert scores["top1"] == pytest.approx(2 / 3)
    assert scores["top1_within_track"] == pytest.approx(2 / 3)
    assert scores == dense_scores(queries, keys, np.array(["a", "a", "b"]))


def test_block_must_be_positive():
    with pytest.raises(ValueError, match="block"):
        retrieval_scores(np.ones((2, 2)), np.ones((2, 2)), np.array(["a", "b"]), block=0)
