"""Pretraining data: Mel segments read from the store, features standardised with train-split statistics.

The Mels stay on disk (mixrep.pretrain.mels.MelStore): a training step reads its 2 × batch_size segments
with one `preadv` each (a contiguous 256 KiB range at the default sizes) and widens them to float32, so
memory does not grow with the corpus. Only the per-item index, ids and standardised features are in memory.

Batches (InfoNCE with hard negatives): an epoch shuffles the training tracks, splits each track's variants
into groups of `group_size` items and cuts the shuffled list of groups into batches, so a batch holds
several variants of the same track (negatives that differ only in the mix treatment) next to other tracks.
Each item contributes two segments from different times (non-overlapping when the item is long enough):
the positive pair shares the mix treatment and differs in content. All randomness comes from generators
seeded by (seed, epoch) and (seed, epoch, step), so a resumed run draws exactly what an uninterrupted
one would have drawn.

With `same_recipe` positives (cells `<name>-recipe`) a pair is instead two items that carry the SAME pool
recipe (recipes.parquet `recipe_id` > 0) on two DIFFERENT tracks, one window of each, each conditioned on its
own window's features: the pair shares the mix treatment and nothing of the content, so content cannot
solve the task. A batch holds each recipe at most once, so no other pair in it is a false negative
(`recipe_epoch_pairs`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mixrep.pretrain.mels import MelSource
from mixrep.tables import read_table

KEY_COLUMNS = ("track_id", "variant_id", "segment")


@dataclass
class FeatureStats:
    """Feature columns of the enabled families and their train-split mean/std."""

    columns: dict[str, list[str]]
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.columns)

    @property
    def dims(self) -> dict[str, int]:
        return {name: len(cols) for name, cols in self.columns.items()}

    def transform(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw feature rows -> family -> standardised float32 (K, n_j); missing values become 0 (the mean)."""
        out = {}
        for name, cols in self.columns.items():
            missing = [c for c in cols if c not in table.columns]
            if missing:
                raise KeyError(f"feature columns missing for family {name!r}: {missing[:5]}"
                               f"{' ...' if len(missing) > 5 else ''}")
            raw = table[cols].to_numpy(dtype=np.float64)
            values = (raw - self.mean[name]) / self.std[name]
            out[name] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        return out

    def transform_dicts(self, rows: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
        """Same as `transform` for feature dicts (mixrep.features.extract_features output)."""
        return self.transform(pd.DataFrame(list(rows)))

    def to_lists(self) -> tuple[dict[str, list[str]], dict[str, list[float]], dict[str, list[float]]]:
        return (dict(self.columns), {k: v.tolist() for k, v in self.mean.items()},
                {k: v.tolist() for k, v in self.std.items()})


def family_columns(columns: Sequence[str], families: Sequence[str]) -> dict[str, list[str]]:
    """Columns named `<family>.` for each family (in table order); an error for a family without columns."""
    out = {name: [c for c in columns if c.startswith(f"{name}.")] for name in families}
    empty = [name for name, cols in out.items() if not cols]
    if empty:
        raise ValueError(f"features table has no columns for families {empty} (expected '<family>.<stem>.<name>')")
    return out


def item_features(features: pd.DataFrame) -> pd.DataFrame:
    """One feature row per track × variant: the first segment (segment 0, or the only row if unsegmented)."""
    missing = [c for c in ("track_id", "variant_id") if c not in features.columns]
    if missing:
        raise ValueError(f"features table lacks key columns {missing}")
    table = features.copy()
    table["track_id"] = table["track_id"].astype(str)
    table["variant_id"] = table["variant_id"].astype(np.int64)
    if "segment" in table.columns:
        table = table.sort_values(["track_id", "variant_id", "segment"], kind="stable")
    return table.drop_duplicates(["track_id", "variant_id"], keep="first").reset_index(drop=True)


def fit_feature_stats(table: pd.DataFrame, families: Sequence[str], train_tracks: set[str]) -> FeatureStats:
    """Mean/std of every enabled family's columns over the train-split rows (std 0 -> 1)."""
    columns = family_columns([c for c in table.columns if c not in KEY_COLUMNS], families)
    train = table[table["track_id"].isin(train_tracks)]
    if train.empty:
        raise ValueError("no feature rows belong to train-split tracks: cannot standardise")
    mean, std = {}, {}
    for name, cols in columns.items():
        values = train[cols].to_numpy(dtype=np.float64)
        with warnings.catch_warnings():  # a column undefined on every window (NaN) gets mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mu = np.nanmean(values, axis=0) if np.isfinite(values).any() else np.zeros(len(cols))
            sd = np.nanstd(values, axis=0)
        mean[name] = np.nan_to_num(mu, nan=0.0)
        std[name] = np.where(np.isfinite(sd) & (sd > 1e-8), sd, 1.0)
    return FeatureStats(columns, mean, std)


@dataclass
class ItemSet:
    """Track × variant items that can be used: their mel index, split, genre and features.

    With a per-segment table (the workflow: results/features/segments/{shard}.parquet), item k's encoder views
    are the grid windows seg_offsets[k]:seg_offsets[k+1], starting at Mel frames `seg_starts`, each with the
    features of its own audio (`seg_features`). Without one (seg_offsets None) the views are drawn anywhere
    in the item and every view gets the item-level row `features` (the former behaviour; library callers only).
    """

    mel_index: np.ndarray
    track_id: np.ndarray
    variant_id: np.ndarray
    split: np.ndarray
    genre: np.ndarray
    features: dict[str, np.ndarray]
    num_frames: np.ndarray
    skipped: list[dict[str, object]] = field(default_factory=list)
    seg_offsets: np.ndarray | None = None
    seg_starts: np.ndarray | None = None
    seg_features: dict[str, np.ndarray] | None = None
    recipe_id: np.ndarray | None = None  # per item (attach_recipe_ids): 0 reference, 1..P pool, -1 unknown

    def __len__(self) -> int:
        return len(self.mel_index)

    @property
    def has_segments(self) -> bool:
        return self.seg_offsets is not None

    def segment_rows(self, positions: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Global segment rows of window `local` of items `positions`."""
        return self.seg_offsets[np.asarray(positions)] + np.asarray(local, dtype=np.int64)

    def subset(self, mask: np.ndarray) -> ItemSet:
        seg = {}
        if self.has_segments:
            kept = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
            counts = np.diff(self.seg_offsets)[kept]
            rows = (np.concatenate([np.arange(self.seg_offsets[k], self.seg_offsets[k + 1]) for k in kept])
                    if len(kept) else np.zeros(0, np.int64)).astype(np.int64)
            seg = dict(seg_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                       seg_starts=self.seg_starts[rows], seg_features={k: v[rows] for k, v in self.seg_features.items()})
        recipe = None if self.recipe_id is None else self.recipe_id[mask]
        return ItemSet(self.mel_index[mask], self.track_id[mask], self.variant_id[mask], self.split[mask],
                       self.genre[mask], {k: v[mask] for k, v in self.features.items()}, self.num_frames[mask],
                       self.skipped, **seg, recipe_id=recipe)

    def of_split(self, split: str) -> ItemSet:
        return self.subset(self.split == split)


SEGMENT_EXTRA_COLUMNS = ("frame_start", "sample_start", "sample_stop")


def sample_pair_windows(counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two distinct grid windows per item (local indices), the same window only for an item with one window."""
    counts = np.asarray(counts, dtype=np.int64)
    first = np.floor(rng.random(len(counts)) * counts).astype(np.int64)
    shift = 1 + np.floor(rng.random(len(counts)) * np.maximum(counts - 1, 1)).astype(np.int64)
    second = np.where(counts > 1, (first + shift) % np.maximum(counts, 1), first)
    return first, second


def _segment_index(segments: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple[str, int], np.ndarray]]:
    """The per-segment table sorted by its keys, and (track_id, variant_id) -> its row numbers."""
    missing = [c for c in (*KEY_COLUMNS, "frame_start") if c not in segments.columns]
    if missing:
        raise ValueError(f"segments table lacks columns {missing}")
    table = segments.copy()
    table["track_id"] = table["track_id"].astype(str)
    table["variant_id"] = table["variant_id"].astype(np.int64)
    table = table.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    groups = table.groupby(["track_id", "variant_id"], sort=False).indices
    return table, {(str(t), int(v)): np.asarray(rows) for (t, v), rows in groups.items()}


def prepare_items(bank: MelSource, features: pd.DataFrame, manifest: pd.DataFrame,
                  families: Sequence[str], segment_frames: int,
                  segments: pd.DataFrame | None = None) -> tuple[ItemSet, FeatureStats]:
    """Join mels, manifest (split, genre), features (and per-segment features); list every item left out.

    Items need a manifest row, a feature row (for every cell, so that all cells embed the same items) and at
    least `segment_frames` frames; with `segments`, also their grid windows, which must be
    `window_starts(num_frames, segment_frames)` (a table made for other sizes is an error, not a silent
    mismatch). Feature statistics come from the train split only: of the per-segment rows when given (those
    are what the encoder is conditioned on), of the item rows otherwise.
    """
    needed = [c for c in ("track_id", "split", "genre") if c not in manifest.columns]
    if needed:
        raise ValueError(f"manifest lacks columns {needed}")
    rows = manifest.copy()
    if "status" in rows.columns:
        rows = rows[rows["status"] == "ok"]
    info = rows.set_index(rows["track_id"].astype(str))[["split", "genre"]]
    table = item_features(features)
    train_tracks = set(info.index[info["split"] == "train"])
    seg_table, seg_rows = (None, {}) if segments is None else _segment_index(segments)
    stats_table = table if seg_table is None else seg_table.drop(columns=[c for c in SEGMENT_EXTRA_COLUMNS
                                                                          if c in seg_table.columns])
    stats = fit_feature_stats(stats_table, families, train_tracks)
    keyed = table.set_index(["track_id", "variant_id"])
    keys = list(zip(bank.track_id.tolist(), bank.variant_id.tolist()))
    frames = bank.num_frames
    keep, skipped = [], []
    for k, (track, variant) in enumerate(keys):
        reason = None
        if track not in info.index:
            reason = "track not in the manifest (or rejected there)"
        elif (track, variant) not in keyed.index:
            reason = "no row in features.parquet"
        elif frames[k] < segment_frames:
            reason = f"only {frames[k]} Mel frames (< segment_frames={segment_frames})"
        elif seg_table is not None and (track, int(variant)) not in seg_rows:
            reason = "no rows in the per-segment features table"
        if reason:
            skipped.append({"track_id": track, "variant_id": int(variant), "reason": reason})
        else:
            keep.append(k)
    index = np.array(keep, dtype=np.int64)
    tracks = bank.track_id[index]
    variants = bank.variant_id[index]
    feature_rows = keyed.loc[list(zip(tracks.tolist(), variants.tolist()))] if len(index) else keyed.iloc[:0]
    track_info = info.loc[tracks] if len(index) else info.iloc[:0]
    seg: dict[str, object] = {}
    if seg_table is not None:
        order = [seg_rows[(t, int(v))] for t, v in zip(tracks.tolist(), variants.tolist())]
        for k, (rows_k, n) in enumerate(zip(order, frames[index])):
            starts = seg_table["frame_start"].to_numpy(np.int64)[rows_k]
            if not np.array_equal(starts, window_starts(int(n), segment_frames)):
                raise ValueError(f"{tracks[k]} variant {variants[k]}: per-segment windows start at frames "
                                 f"{starts.tolist()}, not the grid of segment_frames={segment_frames} over "
                                 f"{int(n)} frames: the table was made with other settings; rerun analyse")
        flat = np.concatenate(order).astype(np.int64) if order else np.zeros(0, np.int64)
        seg = dict(seg_offsets=np.concatenate([[0], np.cumsum([len(r) for r in order])]).astype(np.int64),
                   seg_starts=seg_table["frame_start"].to_numpy(np.int64)[flat],
                   seg_features=stats.transform(seg_table.iloc[flat]))
    items = ItemSet(mel_index=index, track_id=tracks, variant_id=variants,
                    split=track_info["split"].astype(str).to_numpy(dtype=str),
                    genre=track_info["genre"].astype(str).to_numpy(dtype=str),
                    features=stats.transform(feature_rows.reset_index()), num_frames=frames[index], skipped=skipped,
                    **seg)
    return items, stats


def gather_segments(bank: MelSource, mel_index: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
    """(B, 4, 2, M, length) float32 segments of items `mel_index` starting at frames `starts`.

    From disk for a MelStore (one contiguous read per segment), from memory for a MelShard; both give the
    same values (float16 widened exactly), so the source never changes a result.
    """
    return bank.segments(mel_index, starts, length)


def sample_pair_starts(num_frames: np.ndarray, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two segment starts per item, non-overlapping where the item holds two segments (overlapping otherwise)."""
    span = num_frames - length  # last valid start
    first = np.floor(rng.random(len(num_frames)) * (span + 1)).astype(np.int64)
    n_left = np.maximum(0, first - length + 1)          # starts 0 .. first-length
    n_right = np.maximum(0, span - (first + length) + 1)  # starts first+length .. span
    n_free = n_left + n_right
    u = np.floor(rng.random(len(num_frames)) * np.maximum(n_free, 1)).astype(np.int64)
    second = np.where(u < n_left, u, first + length + (u - n_left))
    fallback = np.floor(rng.random(len(num_frames)) * (span + 1)).astype(np.int64)
    return first, np.where(n_free > 0, second, fallback)


def epoch_batches(track_codes: np.ndarray, seed: int, epoch: int, batch_size: int, group_size: int) -> np.ndarray:
    """Item positions for every batch of an epoch, (n_batches, batch_size); the incomplete tail is dropped.

    Each track's items are shuffled and split into groups of `group_size` (several variants of one track
    in a batch = hard negatives); groups are shuffled and concatenated, then cut into batches.
    """
    rng = np.random.default_rng([seed, epoch])
    groups: list[np.ndarray] = []
    for code in rng.permutation(np.unique(track_codes)):
        members = rng.permutation(np.flatnonzero(track_codes == code))
        groups += [members[i:i + group_size] for i in range(0, len(members), group_size)]
    order = np.concatenate([groups[g] for g in rng.permutation(len(groups))]) if groups else np.array([], int)
    n_batches = len(order) // batch_size
    return order[: n_batches * batch_size].reshape(n_batches, batch_size)


def read_recipe_ids(paths: Sequence[str | Path]) -> pd.DataFrame:
    """(track_id, variant_id, recipe_id) of every shard's recipes.parquet (-1 where a table has no pool ids)."""
    frames = []
    for path in paths:
        table = read_table(path, "recipes", columns=("track_id", "variant_id"))
        if "recipe_id" not in table.columns:
            table = table.assign(recipe_id=-1)
        frames.append(table[["track_id", "variant_id", "recipe_id"]])
    if not frames:
        return pd.DataFrame({"track_id": pd.Series(dtype=str), "variant_id": pd.Series(dtype=np.int64),
                             "recipe_id": pd.Series(dtype=np.int64)})
    table = pd.concat(frames, ignore_index=True)
    return table.astype({"track_id": str, "variant_id": np.int64, "recipe_id": np.int64})


def attach_recipe_ids(items: ItemSet, recipes: pd.DataFrame) -> ItemSet:
    """`items` with the recipe id of every item from a recipes table (-1 for an item the table lacks).

    A (track, variant) listed twice with different ids is an error: the pairing would be ambiguous.
    """
    missing = [c for c in ("track_id", "variant_id", "recipe_id") if c not in recipes.columns]
    if missing:
        raise ValueError(f"recipes table lacks columns {missing}")
    table = recipes[["track_id", "variant_id", "recipe_id"]].astype(
        {"track_id": str, "variant_id": np.int64, "recipe_id": np.int64}).drop_duplicates()
    clash = table.duplicated(["track_id", "variant_id"], keep=False)
    if clash.any():
        first = table[clash].iloc[0]
        raise ValueError(f"recipes list {first['track_id']} variant {first['variant_id']} with several recipe ids")
    lookup = table.set_index(["track_id", "variant_id"])["recipe_id"]
    keys = pd.MultiIndex.from_arrays([items.track_id.astype(str), items.variant_id.astype(np.int64)])
    ids = lookup.reindex(keys).fillna(-1).to_numpy(np.int64)
    return replace(items, recipe_id=ids)


_RECIPE_EPOCH_TAG = 0x5EC1


def _recipe_anchors(track_codes: np.ndarray, recipe_ids: np.ndarray) -> dict[int, np.ndarray]:
    """recipe id -> its items (ascending), for every recipe (id > 0) found on two or more tracks."""
    out = {}
    for recipe in np.unique(recipe_ids[recipe_ids > 0]):
        members = np.flatnonzero(recipe_ids == recipe)
        if len(np.unique(track_codes[members])) >= 2:
            out[int(recipe)] = members
    return out


def recipe_pairs_per_epoch(track_codes: np.ndarray, recipe_ids: np.ndarray) -> int:
    """Pairs of an epoch of `recipe_epoch_pairs`: one per item whose recipe also occurs on another track."""
    return sum(len(m) for m in _recipe_anchors(np.asarray(track_codes), np.asarray(recipe_ids)).values())


def recipe_epoch_pairs(track_codes: np.ndarray, recipe_ids: np.ndarray, seed: int, epoch: int,
                       batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor and positive item positions of every batch of an epoch, each (n_batches, batch_size).

    Every item whose recipe (id > 0) also occurs on another track is the anchor of one pair per epoch (as
    every item is once per epoch with same_variant positives, so the two take comparable steps); its positive
    is an item of the same recipe drawn uniformly among those on OTHER tracks. Batches take one anchor each
    of `batch_size` distinct recipes, drawn in proportion to the anchors a recipe has left (so the large
    recipes are not all left for the last batches); when fewer recipes than that have anchors left, the batch
    is topped up with fresh anchors of other recipes. A batch therefore never holds a recipe twice (no false
    negatives) nor an item twice. n_batches = recipe_pairs_per_epoch // batch_size (the tail is dropped), the
    same every epoch, so the schedule's length is known. All draws come from (seed, epoch).
    """
    track_codes = np.asarray(track_codes)
    recipe_ids = np.asarray(recipe_ids, dtype=np.int64)
    rng = np.random.default_rng([int(seed), int(epoch), _RECIPE_EPOCH_TAG])
    members = _recipe_anchors(track_codes, recipe_ids)
    eligible = np.array(sorted(members), dtype=np.int64)
    if len(eligible) < batch_size:
        raise ValueError(f"same_recipe positives: only {len(eligible)} recipes occur on two or more training "
                         f"tracks, fewer than batch_size={batch_size} (a batch holds each recipe once); "
                         "raise degrade.recipe_pool or lower pretrain.batch_size")
    queue = {r: rng.permutation(members[r]) for r in eligible.tolist()}
    n_batches = sum(len(q) for q in queue.values()) // batch_size
    used = {r: 0 for r in queue}

    def partner(anchor: int, recipe: int) -> int:  # uniform over the recipe's items on other tracks
        pool = members[recipe]
        while True:  # rejection: the recipe is on >= 2 tracks, so this ends (O(1) tries unless few tracks)
            other = int(pool[rng.integers(len(pool))])
            if track_codes[other] != track_codes[anchor]:
                return other

    anchors = np.zeros((n_batches, batch_size), dtype=np.int64)
    positives = np.zeros((n_batches, batch_size), dtype=np.int64)
    for b in range(n_batches):
        left = np.array([len(queue[r]) - used[r] for r in eligible.tolist()], dtype=np.float64)
        open_ = np.flatnonzero(left > 0)
        take = min(batch_size, len(open_))
        chosen = open_[rng.choice(len(open_), size=take, replace=False, p=left[open_] / left[open_].sum())]
        picks = []
        for r in eligible[chosen].tolist():
            picks.append((int(queue[r][used[r]]), r))
            used[r] += 1
        if take < batch_size:  # top up with fresh anchors of recipes not yet in this batch
            for r in eligible[rng.choice(np.setdiff1d(np.arange(len(eligible)), chosen), size=batch_size - take,
                                         replace=False)].tolist():
                picks.append((int(members[r][rng.integers(len(members[r]))]), r))
        pairs = [(a, partner(a, r)) for a, r in picks]
        block = np.asarray(pairs, dtype=np.int64)[rng.permutation(batch_size)]
        anchors[b], positives[b] = block[:, 0], block[:, 1]
    return anchors, positives


def window_starts(num_frames: int, length: int) -> np.ndarray:
    """Non-overlapping windows covering an item (the last one flush with its end): used for embeddings."""
    count = max(1, num_frames // length)
    starts = np.arange(count) * length
    if num_frames - (starts[-1] + length) > length // 2:
        starts = np.append(starts, num_frames - length)
    return starts
