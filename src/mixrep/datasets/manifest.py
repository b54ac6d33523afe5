"""Build the manifest: list a source's files, judge each once, draw splits, cut shards, summarise.

Every input file of the selected data gets exactly one row (DESIGN.md): unusable files are `rejected`
with a reason, and tracks of genres outside `dataset.genres` get a row too (reason "genre not selected",
not probed), so the summary accounts for every file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixrep.datasets import fma
from mixrep.datasets.folder import list_folder
from mixrep.datasets.inspect import InspectOptions, inspect_all
from mixrep.datasets.multitrack import list_multitrack
from mixrep.datasets.records import (MANIFEST_COLUMNS, OK, REJECTED, SPLITS, Candidate, DatasetError,
                                     ManifestRow, Reason, reason_code)
from mixrep.datasets.splits import cut_shards, stratified_splits
from mixrep.datasets.synthetic import list_synthetic
from mixrep.stems import SAMPLE_RATE, STEMS, track_dirname

SOURCES: tuple[str, ...] = ("synthetic", "fma", "folder", "multitrack")
# float32 stereo at 44.1 kHz: bytes per second of one WAV file (DESIGN.md scale plan)
WAV_BYTES_PER_SECOND = SAMPLE_RATE * 2 * 4

MANIFEST_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("source", pa.string()), ("path", pa.string()), ("genre", pa.string()),
    ("split", pa.string()), ("duration_s", pa.float64()), ("sample_rate", pa.int64()),
    ("channels", pa.int64()), ("status", pa.string()), ("reason", pa.string()),
    ("stems_dir", pa.string()), ("notes", pa.string()), ("shard", pa.string()),
])


@dataclass(frozen=True)
class DatasetSettings:
    """The `dataset` config section plus the global `seed` and `shard_size`.

    Defaults equal workflow/schemas/sections/dataset.schema.yaml (a test keeps them in step), so the CLI
    behaves the same with or without the workflow's validation filling them in.
    """

    source: str = "synthetic"
    root: str | None = None
    fma_subset: str = "small"
    genres: tuple[str, ...] | None = None
    segment_s: float = 10.0
    min_duration_s: float | None = None
    genre_csv: str | None = None
    split_fractions: tuple[float, ...] = (0.6, 0.2, 0.2)
    silence_peak_dbfs: float = -120.0
    listed_fraction: float = 0.5
    seed: int = 0
    shard_size: int = 16

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> "DatasetSettings":
        """From `--settings` (``{"seed", "shard_size", "dataset": {...}}``); unknown keys are errors."""
        section = dict(settings.get("dataset") or {})
        names = {f.name for f in fields(cls)} - {"seed", "shard_size"}
        unknown = sorted(set(section) - names)
        if unknown:
            raise DatasetError(f"dataset: unknown settings {unknown}; known: {sorted(names)}")
        if section.get("source", cls.source) not in SOURCES:
            raise DatasetError(f"dataset.source: {section['source']!r} is not one of {list(SOURCES)}")
        if section.get("genres") is not None:
            section["genres"] = tuple(str(g) for g in section["genres"])
        if "split_fractions" in section:
            section["split_fractions"] = tuple(float(f) for f in section["split_fractions"])
        return cls(**section, seed=int(settings.get("seed", cls.seed)),
                   shard_size=int(settings.get("shard_size", cls.shard_size)))

    @property
    def min_duration(self) -> float:
        return float(self.segment_s if self.min_duration_s is None else self.min_duration_s)

    def inspect_options(self) -> InspectOptions:
        return InspectOptions(min_duration_s=self.min_duration, silence_peak_dbfs=self.silence_peak_dbfs,
                              listed_fraction=self.listed_fraction)


def list_candidates(settings: DatasetSettings, corpus_metadata: str | Path | None = None) -> list[Candidate]:
    """Every input file of the configured source, before any audio is read."""
    if settings.source == "synthetic":
        if corpus_metadata is None:
            raise DatasetError("source 'synthetic' needs the corpus metadata (results/corpus/metadata.parquet)")
        return list_synthetic(corpus_metadata)
    if settings.source == "fma":
        if not settings.root:
            raise DatasetError("dataset.root must be set for source 'fma'")
        fma.check_genres(settings.root, list(settings.genres) if settings.genres else None)
        return fma.list_fma(settings.root, settings.fma_subset)
    if settings.source == "folder":
        return list_folder(settings.root, settings.genre_csv)
    return list_multitrack(settings.root, settings.genre_csv)


def select_genres(candidates: Sequence[Candidate], genres: Sequence[str] | None) -> list[Candidate]:
    """Mark candidates outside `genres` as rejected (not probed); None keeps every genre."""
    if not genres:
        return list(candidates)
    keep = set(genres)
    return [c if c.genre in keep or c.reason is not None
            else c.rejected(Reason.GENRE_NOT_SELECTED.with_detail(c.genre)) for c in candidates]


def _check_unique(candidates: Sequence[Candidate]) -> None:
    counts = Counter(c.track_id for c in candidates)
    duplicates = sorted(tid for tid, n in counts.items() if n > 1)
    if duplicates:
        raise DatasetError(f"track ids are not unique: {duplicates[:5]}")


def reject_path_collisions(candidates: Sequence[Candidate],
                           dirname: Callable[[str], str] = track_dirname) -> list[Candidate]:
    """Reject a track whose per-track folder name (`dirname`) another track already has.

    Later stages write each track's outputs under `track_dirname(track_id)`; two tracks sharing that
    name would overwrite each other's stems and get identical features without any error. The name is
    injective by design, so with it this only fires on a sha1-prefix collision. Names are compared
    case-folded, as a case-insensitive file system would. Of the ids sharing a name the first in string
    order keeps it; the others are rejected naming both ids.
    """
    owner: dict[str, str] = {}
    checked = []
    for candidate in sorted(candidates, key=lambda c: c.track_id):
        if candidate.reason is None:
            name = dirname(candidate.track_id)
            first = owner.setdefault(name.casefold(), candidate.track_id)
            if first != candidate.track_id:
                candidate = candidate.rejected(Reason.PATH_COLLISION.with_detail(
                    f"{candidate.track_id!r} and {first!r} both map to the per-track folder {name!r}"))
        checked.append(candidate)
    return checked


def assign_splits(rows: list[ManifestRow], settings: DatasetSettings) -> None:
    """Draw a split for every usable track the dataset left without one (stratified by genre)."""
    undrawn = {row.track_id: row.genre for row in rows if row.status == OK and row.split is None}
    drawn = stratified_splits(undrawn, settings.split_fractions, settings.seed)
    for row in rows:
        if row.track_id in drawn:
            row.split = drawn[row.track_id]


def assign_shards(rows: list[ManifestRow], shard_size: int) -> dict[str, list[str]]:
    """Cut the usable tracks (sorted by id) into shards and write each row's shard."""
    shards = cut_shards([row.track_id for row in rows if row.status == OK], shard_size)
    shard_of = {tid: name for name, ids in shards.items() for tid in ids}
    for row in rows:
        row.shard = shard_of.get(row.track_id)
    return shards


def build_manifest(candidates: Sequence[Candidate], settings: DatasetSettings,
                   jobs: int = 1) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The manifest table (sorted by track id) and the shards of its usable tracks."""
    candidates = select_genres(candidates, settings.genres)
    _check_unique(candidates)
    candidates = reject_path_collisions(candidates)
    rows = inspect_all(candidates, settings.inspect_options(), jobs)
    assign_splits(rows, settings)
    shards = assign_shards(rows, settings.shard_size)
    table = pd.DataFrame([row.as_record() for row in rows], columns=list(MANIFEST_COLUMNS))
    return table, shards


def write_manifest(table: pd.DataFrame, path: str | Path) -> Path:
    """manifest.parquet with fixed column types (nullable ints stay ints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table.loc[:, list(MANIFEST_COLUMNS)], schema=MANIFEST_SCHEMA,
                                 preserve_index=False)
    pq.write_table(arrow, path)
    return path


def _megabytes(n_bytes: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes / 1e3:.1f} kB"


def summarize(table: pd.DataFrame, shards: Mapping[str, list[str]], settings: DatasetSettings) -> str:
    """The run summary: counts per status and reason, splits, duration and storage per track/variant."""
    ok = table[table["status"] == OK]
    rejected = table[table["status"] == REJECTED]
    where = [f"subset {settings.fma_subset}"] if settings.source == "fma" else []
    where += [f"root {settings.root}"] if settings.root and settings.source != "synthetic" else []
    lines = [f"manifest: source {settings.source}" + (f" ({', '.join(where)})" if where else ""),
             f"input files: {len(table)}   ok: {len(ok)}   rejected: {len(rejected)}"]
    if len(rejected):
        lines.append("rejected by reason:")
        codes = Counter(reason_code(r) for r in rejected["reason"])
        lines += [f"  {code:<22} {n:>7}" for code, n in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))]
        filtered = rejected[rejected["reason"].map(reason_code) == Reason.GENRE_NOT_SELECTED.value]
        if len(filtered):
            per_genre = Counter(filtered["genre"])
            lines.append("  genres not selected (not probed): "
                         + ", ".join(f"{g} {n}" for g, n in sorted(per_genre.items())))
    if settings.genres:
        absent = sorted(set(settings.genres) - set(table["genre"]))
        if absent:
            lines.append(f"warning: selected genres without any track: {absent}")
    split_counts = Counter(ok["split"])
    shown = [*SPLITS, *sorted(set(split_counts) - set(SPLITS))]  # e.g. the crossed content x style set
    lines.append("ok by split: " + ", ".join(f"{s} {split_counts.get(s, 0)}" for s in shown))
    lines.append("ok by genre: " + ", ".join(f"{g} {n}" for g, n in sorted(Counter(ok["genre"]).items())))
    notes = Counter(note.split(" ")[0] for cell in ok["notes"].dropna() for note in cell.split("; "))
    if notes:
        lines.append("converted when loaded: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items())))
    total = float(ok["duration_s"].sum())
    mean = total / len(ok) if len(ok) else 0.0
    lines.append(f"ok duration: {total:.1f} s ({total / 3600:.2f} h), mean {mean:.1f} s per track")
    names = sorted(shards)
    span = f" ({names[0]} .. {names[-1]})" if names else ""
    lines.append(f"shards: {len(shards)} of up to {settings.shard_size} tracks{span}")
    per_file = mean * WAV_BYTES_PER_SECOND
    n_stems = len(STEMS)
    lines.append(f"storage estimate (float32 stereo {SAMPLE_RATE} Hz WAV = "
                 f"{WAV_BYTES_PER_SECOND / 1e3:.1f} kB/s per file; per mean track | all ok tracks):")
    for label, files in (("one file (a mixture)", 1), (f"stems ({n_stems} files)", n_stems),
                         (f"one rendered variant ({n_stems} stems + mix)", n_stems + 1)):
        lines.append(f"  {label:<40} {_megabytes(files * per_file):>10} | "
                     f"{_megabytes(files * total * WAV_BYTES_PER_SECOND)}")
    return "\n".join(lines) + "\n"

