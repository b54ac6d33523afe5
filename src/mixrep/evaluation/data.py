"""Reading the tables Stage 2 evaluates: embeddings, structured features, recipes (fault labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["track_id", "variant_id"]
EMBED_COLUMNS = ("track_id", "variant_id", "split", "genre", "embedding")
FEATURE_FAMILIES = ("dynamics", "spectral", "stereo", "masking")


def read_table(path: str | Path, what: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A Parquet table with a clear error naming the file and what is wrong."""
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the {what} table {path}: {error}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table {path} lacks column(s) {missing} (docs/CONTRACTS.md)")
    return table


def read_embeddings(path: str | Path) -> pd.DataFrame:
    """Embed table with one row per (track_id, variant_id); `embedding` kept as a list column."""
    table = read_table(path, "embedding", EMBED_COLUMNS)
    table = table.assign(track_id=table["track_id"].astype(str), variant_id=table["variant_id"].astype(np.int64))
    if table.duplicated(KEY).any():
        raise ValueError(f"embedding table {path} has duplicate (track_id, variant_id) rows")
    return table


def embedding_matrix(table: pd.DataFrame) -> np.ndarray:
    """(N, D) float32 from the `embedding` list column; an error if the rows differ in size."""
    try:
        return np.stack([np.asarray(v, dtype=np.float32) for v in table["embedding"]])
    except ValueError as error:
        raise ValueError(f"embeddings of unequal size: {error}") from None


def feature_columns(table: pd.DataFrame) -> list[str]:
    """Scalar feature columns `<family>.<stem|mix>.<name>` (mixrep.features naming)."""
    return [c for c in table.columns if c.split(".", 1)[0] in FEATURE_FAMILIES and c.count(".") >= 2]


def read_features(path: str | Path) -> pd.DataFrame:
    """Feature table with one row per (track_id, variant_id): segments are averaged."""
    table = read_table(path, "features", ("track_id", "variant_id"))
    columns = feature_columns(table)
    if not columns:
        raise ValueError(f"features table {path} has no <family>.<stem|mix>.<name> column")
    table = table.assign(track_id=table["track_id"].astype(str), variant_id=table["variant_id"].astype(np.int64))
    return table.groupby(KEY, sort=True)[columns].mean().reset_index()


def fault_label(fault_types: str) -> str:
    """The fault type a variant is coloured by: `none`, its single fault, or `multiple`."""
    faults = [f.strip() for f in str(fault_types).split(",") if f.strip()]
    if not faults:
        return "none"
    return faults[0] if len(faults) == 1 else "multiple"
