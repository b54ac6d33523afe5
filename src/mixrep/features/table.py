"""The features table on disk: building, checking, writing and merging Parquet files.

Rows are sorted by the key columns and written without pandas metadata or timestamps, so the same rows
give the same bytes (`--cores 1` and `--cores 2` runs agree). Every table is checked finite before it is
written: the contract is "never -inf or NaN".
"""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixrep import tables
from mixrep.errors import TableError
from mixrep.features.columns import KEY_COLUMNS, feature_columns


def schema() -> pa.Schema:
    """track_id string, variant_id and segment int64, then every feature column as float32."""
    fields = [pa.field("track_id", pa.string()), pa.field("variant_id", pa.int64()),
              pa.field("segment", pa.int64())]
    fields += [pa.field(name, pa.float32()) for name in feature_columns()]
    return pa.schema(fields)


def build_table(keys: Sequence[tuple[str, int, int]], rows: Sequence[dict[str, float]],
                undefined: Collection[str] = ()) -> pa.Table:
    """A checked, key-sorted table from (track_id, variant_id, segment) keys and feature rows.

    `undefined`: columns allowed to hold NaN (= not defined on the row's audio; the per-segment table only).
    """
    if len(keys) != len(rows):
        raise ValueError(f"{len(keys)} keys for {len(rows)} feature rows")
    names = feature_columns()
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    matrix = np.array([[rows[i][name] for name in names] for i in order], dtype=np.float32).reshape(len(order),
                                                                                                   len(names))
    columns: list[pa.Array] = [
        pa.array([keys[i][0] for i in order], pa.string()),
        pa.array([keys[i][1] for i in order], pa.int64()),
        pa.array([keys[i][2] for i in order], pa.int64()),
    ]
    columns += [pa.array(matrix[:, j], pa.float32()) for j in range(len(names))]
    table = pa.Table.from_arrays(columns, schema=schema())
    check_table(table, "features table", undefined)
    return table


def check_table(table: pa.Table, where: str | Path, undefined: Collection[str] = ()) -> None:
    """Raise TableError naming `where` if the columns are not the contract's or a value is not finite.

    Columns in `undefined` may hold NaN (never infinity).
    """
    expected = schema()
    if table.schema.names != expected.names:
        missing = sorted(set(expected.names) - set(table.schema.names))
        extra = sorted(set(table.schema.names) - set(expected.names))
        raise TableError(where, f"feature columns differ from mixrep.features.columns "
                         f"(missing {missing[:5]}, unexpected {extra[:5]})")
    if not table.schema.equals(expected):
        raise TableError(where, f"column types differ from the contract ({expected})")
    if table.num_rows:
        matrix = np.column_stack([table.column(name).to_numpy() for name in feature_columns()])
        bad = ~np.isfinite(matrix)
        if undefined:
            allowed = np.array([name in set(undefined) for name in feature_columns()])
            bad &= ~(np.isnan(matrix) & allowed[None, :])
        if bad.any():
            names = sorted({feature_columns()[j] for j in np.flatnonzero(bad.any(axis=0))})
            raise TableError(where, f"NaN or infinite values in {names[:5]}")
    keys = table.select(list(KEY_COLUMNS)).to_pylist()
    if len({tuple(k.values()) for k in keys}) != len(keys):
        raise TableError(where, "duplicate (track_id, variant_id, segment) keys")


def write_table(table: pa.Table, path: str | Path, undefined: Collection[str] = ()) -> Path:
    """Write after `check_table`; deterministic bytes for identical rows."""
    path = Path(path)
    check_table(table, path, undefined)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=True)
    return path


def read_table(path: str | Path) -> pa.Table:
    """Read and check one features table (`mixrep.tables.read_table`: a TableError naming the file if it is
    missing, unreadable or not a features table)."""
    frame = tables.read_table(path, "features", KEY_COLUMNS)
    expected = schema()
    if list(frame.columns) == expected.names and all(
            frame[name].dtype == np.float32 for name in expected.names[len(KEY_COLUMNS):]):
        table = pa.Table.from_pandas(frame, schema=expected, preserve_index=False)  # typed even when empty
    else:  # check_table names what differs
        table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)
    check_table(table, path)
    return table


def merge_tables(paths: Iterable[str | Path]) -> pa.Table:
    """Concatenate per-shard tables, sorted by the keys; a track in two shards is an error."""
    tables = [read_table(p) for p in paths]
    if not tables:
        return schema().empty_table()
    merged = pa.concat_tables(tables)
    merged = merged.sort_by([(name, "ascending") for name in KEY_COLUMNS])
    check_table(merged, "merged features")
    return merged
