"""Separating one shard of the manifest into stem folders, and the shard's index table.

A track that fails (unreadable mixture, missing true stems for the oracle, ...) gets a row with
`status = "failed"` and its reason; the shard goes on. Only a shard where every track fails is an error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.audio import STEM_FORMATS, AudioError, load_audio, read_stems, write_stems
from mixrep.separation.apply import ApplySettings, separate_track
from mixrep.separation.checkpoint import LoadedSeparator
from mixrep.stems import track_dirname

log = logging.getLogger(__name__)

INDEX_COLUMNS = ("track_id", "stem_dir", "method", "num_samples", "status", "reason")


@dataclass(frozen=True)
class IndexRow:
    """One row of results/stems/{shard}/index.parquet."""

    track_id: str
    stem_dir: str | None  # relative to the working directory; None when the track failed
    method: str  # scnet | oracle
    num_samples: int  # samples per stem channel; 0 when the track failed
    status: str  # ok | failed
    reason: str  # empty when ok


def oracle_stems(row: pd.Series) -> np.ndarray:
    """The true stems of a manifest row (4, 2, N) in STEMS order."""
    stems_dir = row.get("stems_dir")
    if stems_dir is None or (isinstance(stems_dir, float) and np.isnan(stems_dir)):
        raise AudioError(row["path"], "oracle separation needs true stems, but stems_dir is null")
    return read_stems(stems_dir)


def separate_one(row: pd.Series, method: str, separator: LoadedSeparator | None,
                 settings: ApplySettings) -> np.ndarray:
    if method == "oracle":
        return oracle_stems(row)
    mixture, _ = load_audio(row["path"])
    return separate_track(separator.model, mixture, settings)


def relative(path: Path) -> str:
    """`path` relative to the working directory (the workflow's), as the index contract asks."""
    return os.path.relpath(path, Path.cwd())


def separate_shard(manifest: pd.DataFrame, track_ids: list[str], out_dir: str | Path, method: str,
                   separator: LoadedSeparator | None, settings: ApplySettings,
                   stem_format: str = "flac24") -> pd.DataFrame:
    """Write stems of every track of the shard under out_dir/<track_dirname>/ and return the index.

    `stem_format` (separation.stem_format): flac24 = 24-bit FLAC with per-stem power-of-two gains (about half
    the disk of float WAV, error <= 2**-23 x peak, nothing clipped), float32 = float WAV (exact). Readers
    (`mixrep.audio.read_stems`) find either.
    """
    if stem_format not in STEM_FORMATS:
        raise ValueError(f"separation.stem_format must be one of {sorted(STEM_FORMATS)}, got {stem_format!r}")
    if method not in ("scnet", "oracle"):
        raise ValueError(f"separation.method must be 'scnet' or 'oracle', got {method!r}")
    if method == "scnet" and separator is None:
        raise ValueError("method 'scnet' needs a loaded separator")
    out_dir = Path(out_dir)
    by_id = manifest.set_index("track_id", drop=False)
    rows: list[IndexRow] = []
    for track_id in track_ids:
        if track_id not in by_id.index:
            rows.append(IndexRow(track_id, None, method, 0, "failed", "track id not in the manifest"))
            continue
        try:
            stems = separate_one(by_id.loc[track_id], method, separator, settings)
            if not np.all(np.isfinite(stems)):
                raise ValueError("separated stems hold NaN or infinite values")
            stem_dir = out_dir / track_dirname(track_id)
            write_stems(stem_dir, stems, stem_format=stem_format)
            rows.append(IndexRow(track_id, relative(stem_dir), method, int(stems.shape[-1]), "ok", ""))
            log.info("%s: %d samples", track_id, stems.shape[-1])
        except (AudioError, ValueError, RuntimeError, OSError) as exc:
            log.warning("%s failed: %s", track_id, exc)
            rows.append(IndexRow(track_id, None, method, 0, "failed", f"{exc.__class__.__name__}: {exc}"))
    table = pd.DataFrame([asdict(row) for row in rows], columns=list(INDEX_COLUMNS))
    table["num_samples"] = table["num_samples"].astype("int64")
    return table
