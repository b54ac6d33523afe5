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
from typing import Any

import pandas as pd

from mixrep.audio import STEM_FORMATS, AudioError
from mixrep.separation.apply import ApplySettings
from mixrep.separation.separators import SEPARATORS
from mixrep.stems import track_dirname

log = logging.getLogger(__name__)

INDEX_COLUMNS = ("track_id", "stem_dir", "method", "num_samples", "status", "reason", "split")


@dataclass(frozen=True)
class IndexRow:
    """One row of results/stems/{shard}/index.parquet."""

    track_id: str
    stem_dir: str | None  # relative to the working directory; None when the track failed
    method: str  # the separator (separation.method, a name of separators.SEPARATORS)
    num_samples: int  # samples per stem channel; 0 when the track failed
    status: str  # ok | failed
    reason: str  # empty when ok
    split: str = ""  # the manifest's split (the analyse pass renders only the reference of `crossed` tracks)


def relative(path: Path) -> str:
    """`path` relative to the working directory (the workflow's), as the index contract asks."""
    return os.path.relpath(path, Path.cwd())


def separate_shard(manifest: pd.DataFrame, track_ids: list[str], out_dir: str | Path, method: str,
                   loaded: Any, settings: ApplySettings, stem_format: str = "flac24") -> pd.DataFrame:
    """Write stems of every track of the shard under out_dir/<track_dirname>/ and return the index.

    `method` names the separator (`separators.SEPARATORS`), `loaded` is what its `load` returned (None for
    one that loads nothing, such as the oracle).

    `stem_format` (separation.stem_format): flac24 = 24-bit FLAC with per-stem power-of-two gains (about half
    the disk of float WAV, error <= 2**-23 x peak, nothing clipped), float32 = float WAV (exact). Readers
    (`mixrep.audio.read_stems`) find either.
    """
    if stem_format not in STEM_FORMATS:
        raise ValueError(f"separation.stem_format must be one of {sorted(STEM_FORMATS)}, got {stem_format!r}")
    separate_to = SEPARATORS.get(method).open(loaded, settings)
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
            samples = separate_to(by_id.loc[track_id], stem_dir, stem_format)
            rows.append(IndexRow(track_id, relative(stem_dir), method, int(samples), "ok", "", split))
            log.info("%s: %d samples", track_id, samples)
        except (AudioError, ValueError, RuntimeError, OSError) as exc:
            log.warning("%s failed: %s", track_id, exc)
            rows.append(IndexRow(track_id, None, method, 0, "failed", f"{exc.__class__.__name__}: {exc}", split))
    table = pd.DataFrame([asdict(row) for row in rows], columns=list(INDEX_COLUMNS))
    table["num_samples"] = table["num_samples"].astype("int64")
    return table
