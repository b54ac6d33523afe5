"""Train / val / test splits for datasets without their own, and the cutting of shards.

Splits are drawn per genre (stratified): the tracks of a genre are ordered by a hash of (seed, track_id)
and cut at the rounded cumulative fractions. A track's place in that order depends only on its own id, and
each cut moves by at most one position when a track is added, so adding a track to a genre moves at most
two existing tracks of that genre to another split (tested), and none of any other genre.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Mapping, Sequence

from mixrep.datasets.records import SPLITS


def split_key(seed: int, track_id: str) -> int:
    """A stable pseudo-random rank of a track (independent of Python's salted hash())."""
    digest = hashlib.sha256(f"{seed}\x00{track_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Tracks per split for a group of `n`: cuts at round-half-up(n * cumulative fraction).

    Rounding alone starves the middle split of small groups (3 tracks at 0.6/0.2/0.2 give 2/0/1, and
    every small genre would round the same way), so when `n` can cover every split with a positive
    fraction, an empty one takes a track from the largest.
    """
    if len(fractions) != len(SPLITS):
        raise ValueError(f"split_fractions needs {len(SPLITS)} values (train, val, test), got {list(fractions)}")
    total = float(sum(fractions))
    if total <= 0 or any(f < 0 for f in fractions):
        raise ValueError(f"split_fractions must be non-negative with a positive sum, got {list(fractions)}")
    cuts, cumulative = [], 0.0
    for fraction in fractions[:-1]:
        cumulative += fraction / total
        cuts.append(min(n, math.floor(n * cumulative + 0.5)))
    bounds = [0, *cuts, n]
    counts = [bounds[i + 1] - bounds[i] for i in range(len(SPLITS))]
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                counts[counts.index(max(counts))] -= 1
                counts[i] = 1
    return tuple(counts)


def stratified_splits(genres: Mapping[str, str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """track_id -> split, drawn within each genre (deterministic for a seed)."""
    by_genre: dict[str, list[str]] = defaultdict(list)
    for track_id, genre in genres.items():
        by_genre[genre].append(track_id)
    splits: dict[str, str] = {}
    for ids in by_genre.values():
        ids.sort(key=lambda tid: (split_key(seed, tid), tid))
        start = 0
        for name, count in zip(SPLITS, split_counts(len(ids), fractions)):
            for tid in ids[start:start + count]:
                splits[tid] = name
            start += count
    return splits


def shard_name(index: int) -> str:
    return f"shard-{index:03d}"


def cut_shards(track_ids: Sequence[str], shard_size: int) -> dict[str, list[str]]:
    """Sorted ids cut into consecutive shards of `shard_size` (the last may be smaller)."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    ordered = sorted(track_ids)
    if len(set(ordered)) != len(ordered):
        raise ValueError("track ids must be unique to be sharded")
    return {shard_name(i // shard_size): ordered[i:i + shard_size] for i in range(0, len(ordered), shard_size)}
