"""Reading the tables Stage 2 evaluates: embeddings, structured features, recipes (fault labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.features.columns import TARGETS
from mixrep.features.families import FAMILIES
from mixrep.tables import read_table  # the one table reader (evaluation/cli.py takes it from here)

KEY = ["track_id", "variant_id"]
EMBED_COLUMNS = ("track_id", "variant_id", "split", "genre", "embedding")


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


def feature_columns(table: pd.DataFrame, where: str | Path = "features table") -> list[str]:
    """Scalar feature columns `<family>.<stem|mix>.<name>` (mixrep.features naming), in table order.

    A column of that shape whose family is not registered (mixrep.features.families) is an error: a table
    written by another version of the code, never a family dropped silently.
    """
    shaped = [c for c in table.columns if c.count(".") >= 2 and c.split(".")[1] in TARGETS]
    unknown = sorted({c.split(".", 1)[0] for c in shaped} - set(FAMILIES))
    if unknown:
        raise ValueError(f"{where}: columns of unknown feature families {unknown} "
                         f"(registered: {list(FAMILIES.names())}; mixrep.features.families)")
    return shaped


def read_features(path: str | Path) -> pd.DataFrame:
    """Feature table with one row per (track_id, variant_id): segments are averaged."""
    table = read_table(path, "features", ("track_id", "variant_id"))
    columns = feature_columns(table, path)
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
