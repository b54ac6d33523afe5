"""The one reader of table inputs (Parquet or CSV): a missing, unreadable or incomplete table is a TableError
naming the file, what it should have been, and what is wrong — never a traceback from pyarrow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mixrep.errors import TableError


def read_table(path: str | Path, what: str, columns: Sequence[str] = (),
               text_columns: Sequence[str] = (), dtype: Mapping[str, object] | None = None) -> pd.DataFrame:
    """`path` as a DataFrame (`.csv` by pandas, anything else as Parquet), checked for `columns`.

    `text_columns` are read as strings from a CSV (ids such as `000123` keep their zeros).
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(path, f"no such file (the {what} table)")
    try:
        if path.suffix.lower() == ".csv":
            types = {**{c: str for c in text_columns}, **dict(dtype or {})}
            table = pd.read_csv(path, dtype=types or None)
        else:
            table = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 (pyarrow and pandas raise many types for a damaged file)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise TableError(path, f"cannot read the {what} table ({type(exc).__name__}: {detail})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise TableError(path, f"the {what} table lacks column(s) {missing} (docs/CONTRACTS.md)")
    return table
