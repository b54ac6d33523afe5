"""Separating one shard of the manifest into stem folders, and the shard's index table.

Tracks are streamed from file to stem files (`mixrep.separation.stream`): memory does not grow with a
track's length (44.1 kHz inputs, shifts 0), so one long fma_full track does not set the job's memory.

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

from mixrep.audio import STEM_FORMATS, AudioError
from mixrep.separation.apply import ApplySettings
from mixrep.separation.checkpoint import LoadedSeparator
from mixrep.separation.stream import copy_stems, separate_file
from mixrep.stems import track_dirname

log = logging.getLogger(__name__)

INDEX_COLUMNS = ("track_id", "stem_dir", "method", "num_samples", "status", "reason", "split")


@dataclass(frozen=True)
class IndexRow:
    """One row of results/stems/{shard}/index.parquet."""

    track_id: str
    stem_dir: str | None  # relative to the working directory; None when the track failed
    method: str  # scnet | oracle
    num_samples: int  # samples per stem channel; 0 when the track failed
    status: str  # ok | failed
    reason: str  # empty when ok
    split: str = ""  # the manifest's split (the analyse pass renders only the reference of `crossed` tracks)


def true_stems_dir(row: pd.Series) -> str:
    """The folder of a manifest row's true stems; AudioError when it has none."""
    stems_dir = row.get("stems_dir")
    if stems_dir is None or (isinstance(stems_dir, float) and np.isnan(stems_dir)):
        raise AudioError(row["path"], "oracle separation needs true stems, but stems_dir is null")
    return str(stems_dir)


def separate_to(row: pd.Series, stem_dir: Path, method: str, separator: LoadedSeparator | None,
                settings: ApplySettings, stem_format: str) -> int:
    """Stream one row's stems into stem_dir (no partial files on failure); return the samples per stem."""
    if method == "oracle":
        return copy_stems(true_stems_dir(row), stem_dir, stem_format)
    return separate_file(separator.model, row["path"], stem_dir, settings, stem_format)


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
        split = str(by_id.loc[track_id].get("split", "") or "")
        try:
            stem_dir = out_dir / track_dirname(track_id)
            samples = separate_to(by_id.loc[track_id], stem_dir, method, separator, settings, stem_format)
            rows.append(IndexRow(track_id, relative(stem_dir), method, int(samples), "ok", "", split))
            log.info("%s: %d samples", track_id, samples)
        except (AudioError, ValueError, RuntimeError, OSError) as exc:
            log.warning("%s failed: %s", track_id, exc)
            rows.append(IndexRow(track_id, None, method, 0, "failed", f"{exc.__class__.__name__}: {exc}", split))
    table = pd.DataFrame([asdict(row) for row in rows], columns=list(INDEX_COLUMNS))
    table["num_samples"] = table["num_samples"].astype("int64")
    return table
