"""Embeddings of items: z averaged over non-overlapping windows, and the embed parquet writer.

The parquet (`results/embed/{run}/seed{seed}.parquet`) has one row per track × variant of every split:
`track_id` (string), `variant_id` (int64), `split`, `genre` (string), `embedding` (fixed-size list of
float32, 4·d values: vocals, bass, drums, other blocks of d).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from mixrep.pretrain.data import ItemSet, gather_segments, window_starts
from mixrep.pretrain.mels import MelSource


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing on CPU (CPU runs stay float32 and deterministic)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def to_device(features: Mapping[str, np.ndarray], positions: np.ndarray,
              device: torch.device) -> dict[str, torch.Tensor]:
    """Rows `positions` of every family's standardised features, as tensors on `device`."""
    return {name: torch.from_numpy(values[positions]).to(device) for name, values in features.items()}


@torch.inference_mode()
def encode_segments(model: nn.Module, bank: MelSource, items: ItemSet, positions: np.ndarray, starts: np.ndarray,
                    length: int, device: torch.device, batch_size: int = 64,
                    segments: np.ndarray | None = None) -> np.ndarray:
    """z (len(positions), 4·d) float32 of the segments (items[positions], starts).

    With `segments` (rows of the items' per-segment table, one per position) each segment is conditioned on
    its own window's features; otherwise on its item's row.
    """
    model.eval()
    out = []
    for lo in range(0, len(positions), batch_size):
        pos = positions[lo:lo + batch_size]
        mels = gather_segments(bank, items.mel_index[pos], starts[lo:lo + batch_size], length)
        features = (to_device(items.features, pos, device) if segments is None
                    else to_device(items.seg_features, segments[lo:lo + batch_size], device))
        with autocast(device):
            z = model(mels.to(device), features)
        out.append(z.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def embed_items(model: nn.Module, bank: MelSource, items: ItemSet, length: int, device: torch.device,
                batch_size: int = 64) -> np.ndarray:
    """One embedding per item: the mean of z over `window_starts` of the item (its grid windows, each
    conditioned on its own features, when the items carry a per-segment table).

    Windows are encoded `batch_size` at a time and summed into per-item accumulators as they come, so only
    the (items × 4·d) result is held, never every window's z; batches and summation order are those of the
    former all-at-once version, so the embeddings are identical.
    """
    segments = None
    if items.has_segments:  # the grid windows of the per-segment table, each with its own features
        pos = np.repeat(np.arange(len(items)), np.diff(items.seg_offsets))
        starts_all = items.seg_starts
        segments = np.arange(len(starts_all))
    else:
        positions, starts = [], []
        for k, frames in enumerate(items.num_frames):
            windows = window_starts(int(frames), length)
            positions.append(np.full(len(windows), k))
            starts.append(windows)
        pos = np.concatenate(positions)
        starts_all = np.concatenate(starts)
    sums = None
    for lo in range(0, len(pos), batch_size):
        z = encode_segments(model, bank, items, pos[lo:lo + batch_size], starts_all[lo:lo + batch_size], length,
                            device, batch_size, None if segments is None else segments[lo:lo + batch_size])
        if sums is None:
            sums = np.zeros((len(items), z.shape[1]), dtype=np.float64)
        np.add.at(sums, pos[lo:lo + batch_size], z)
    if sums is None:
        return np.zeros((0, 0), dtype=np.float32)
    return (sums / np.bincount(pos, minlength=len(items))[:, None]).astype(np.float32)


def embedding_table(items: ItemSet, embeddings: np.ndarray) -> pa.Table:
    """The embed parquet schema (docs/CONTRACTS.md)."""
    dim = embeddings.shape[1]
    flat = pa.array(np.ascontiguousarray(embeddings, dtype=np.float32).reshape(-1), type=pa.float32())
    return pa.table({
        "track_id": pa.array(items.track_id.tolist(), type=pa.string()),
        "variant_id": pa.array(items.variant_id.astype(np.int64), type=pa.int64()),
        "split": pa.array(items.split.tolist(), type=pa.string()),
        "genre": pa.array(items.genre.tolist(), type=pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
    })


def write_embeddings(path: str | Path, items: ItemSet, embeddings: np.ndarray, metadata: Mapping[str, str]) -> Path:
    """Write the parquet, sorted by (track_id, variant_id), with provenance in the schema metadata."""
    order = np.lexsort((items.variant_id, items.track_id))
    table = embedding_table(items.subset(order), embeddings[order])
    table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in metadata.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


VIEW_SPLITS: tuple[str, ...] = ("val", "test")  # the retrieval splits (evaluate.retrieval_split)
VIEW_SEED = 0x7E7  # one fixed draw of windows: every source (cell, control, seed) sees the same two views


def view_positions(items: ItemSet, splits: tuple[str, ...] = VIEW_SPLITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, rows_a, rows_b): the held-out items and the segment rows of their two views.

    The two distinct grid windows of each item come from a generator seeded by VIEW_SEED alone, so that
    retrieval of every source and seed is measured on the same windows and pairs query by query.
    """
    from mixrep.pretrain.data import sample_pair_windows

    if not items.has_segments:
        raise ValueError("views need the per-segment table (results/features/segments/{shard}.parquet)")
    positions = np.flatnonzero(np.isin(items.split, splits))
    counts = np.diff(items.seg_offsets)[positions]
    a, b = sample_pair_windows(counts, np.random.default_rng([VIEW_SEED]))
    return positions, items.segment_rows(positions, a), items.segment_rows(positions, b)


def embed_views(model: nn.Module, bank: MelSource, items: ItemSet, length: int, device: torch.device,
                batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, z of view 0, z of view 1) of the held-out items, each view conditioned on its own window.

    Without a per-segment table (library callers) the two views are two segment starts drawn anywhere in
    the item (same fixed generator), each conditioned on the item's row.
    """
    from mixrep.pretrain.data import sample_pair_starts

    if not items.has_segments:
        positions = np.flatnonzero(np.isin(items.split, VIEW_SPLITS))
        first, second = sample_pair_starts(items.num_frames[positions], length, np.random.default_rng([VIEW_SEED]))
        return (positions, encode_segments(model, bank, items, positions, first, length, device, batch_size),
                encode_segments(model, bank, items, positions, second, length, device, batch_size))
    positions, rows_a, rows_b = view_positions(items)
    first = encode_segments(model, bank, items, positions, items.seg_starts[rows_a], length, device, batch_size,
                            rows_a)
    second = encode_segments(model, bank, items, positions, items.seg_starts[rows_b], length, device, batch_size,
                             rows_b)
    return positions, first, second


def views_path(embeddings_path: str | Path) -> Path:
    """results/embed/{source}/seed{s}.parquet -> results/embed/{source}/seed{s}.views.parquet."""
    path = Path(embeddings_path)
    return path.with_name(path.name.removesuffix(".parquet") + ".views.parquet")


def write_views(path: str | Path, items: ItemSet, positions: np.ndarray, first: np.ndarray, second: np.ndarray,
                metadata: Mapping[str, str]) -> Path:
    """Views parquet: track_id, variant_id, split, view (0|1), embedding; two rows per held-out item."""
    sub = items.subset(positions)
    both = np.concatenate([first, second]) if len(positions) else np.zeros((0, 1), dtype=np.float32)
    dim = both.shape[1]
    flat = pa.array(np.ascontiguousarray(both, dtype=np.float32).reshape(-1), type=pa.float32())
    table = pa.table({
        "track_id": pa.array(sub.track_id.tolist() * 2, type=pa.string()),
        "variant_id": pa.array(np.tile(sub.variant_id.astype(np.int64), 2), type=pa.int64()),
        "split": pa.array(sub.split.tolist() * 2, type=pa.string()),
        "view": pa.array(np.repeat(np.array([0, 1], dtype=np.int8), len(positions)), type=pa.int8()),
        "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
    })
    table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in metadata.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
