"""The manifest's records: a candidate input file, one manifest row, and the reasons a track is rejected.

A source (FMA, a folder, a multitrack tree, the synthetic corpus) only *lists* candidates; every check that
needs the audio happens once, in `mixrep.datasets.inspect`, so all sources are judged by the same rules.
Reasons are written as ``"<code>: <detail>"``: the code groups the run summary, the detail names the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

OK = "ok"
REJECTED = "rejected"
SPLITS: tuple[str, ...] = ("train", "val", "test")

# Column order of manifest.parquet: DESIGN.md's columns, then CONTRACTS.md's additions.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "track_id", "source", "path", "genre", "split", "duration_s", "sample_rate", "channels",
    "status", "reason", "stems_dir", "notes", "shard",
)


class Reason(str, Enum):
    """Why a track is rejected. The value is the code that starts the manifest's `reason`."""

    MISSING_FILE = "missing file"
    BROKEN_LINK = "broken link"
    SYMLINK_LOOP = "symlink loop"
    NOT_A_FILE = "not a regular file"
    DUPLICATE = "duplicate"
    PATH_COLLISION = "path collision"
    MISSING_STEM = "missing stem"
    UNREADABLE = "unreadable"
    DECODE_FAILED = "decode failed"
    NO_AUDIO = "no audio"
    TRUNCATED = "truncated"
    TOO_SHORT = "too short"
    SHORTER_THAN_LISTED = "shorter than listed"
    NON_FINITE = "non-finite samples"
    SILENT = "digital silence"
    STEM_UNREADABLE = "stem unreadable"
    STEM_MISMATCH = "stem mismatch"
    GENRE_NOT_SELECTED = "genre not selected"

    def with_detail(self, detail: str) -> str:
        """The full reason text: code, then what exactly was found."""
        return f"{self.value}: {detail}" if detail else self.value


def reason_code(reason: str) -> str:
    """The code of a reason text (the part before the first ': ')."""
    return reason.split(": ", 1)[0]


@dataclass(frozen=True)
class Candidate:
    """One input file a source lists, before its audio is looked at.

    `split` is the dataset's own split (FMA, MUSDB) or None (drawn later, stratified by genre).
    `stem_files` holds the true stems of a multitrack folder (name -> path), empty otherwise.
    `expected_duration_s` is what the dataset's metadata promises (FMA), used to catch clipped files.
    `reason` is set when the source already knows the track cannot be used (missing file or stem).
    """

    track_id: str
    source: str
    path: str
    genre: str = "unknown"
    split: str | None = None
    stems_dir: str | None = None
    stem_files: tuple[tuple[str, str], ...] = ()
    expected_duration_s: float | None = None
    reason: str | None = None

    def rejected(self, reason: str) -> "Candidate":
        return replace(self, reason=reason)


@dataclass
class ManifestRow:
    """One row of manifest.parquet (columns in MANIFEST_COLUMNS)."""

    track_id: str
    source: str
    path: str
    genre: str
    split: str | None
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    status: str
    reason: str | None
    stems_dir: str | None
    notes: str | None = None
    shard: str | None = None

    @classmethod
    def from_candidate(cls, candidate: Candidate, *, status: str, reason: str | None = None,
                       duration_s: float | None = None, sample_rate: int | None = None,
                       channels: int | None = None, notes: str | None = None) -> "ManifestRow":
        return cls(track_id=candidate.track_id, source=candidate.source, path=candidate.path,
                   genre=candidate.genre, split=candidate.split, duration_s=duration_s,
                   sample_rate=sample_rate, channels=channels, status=status, reason=reason,
                   stems_dir=candidate.stems_dir, notes=notes)

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        return {name: record[name] for name in MANIFEST_COLUMNS}


class DatasetError(Exception):
    """A dataset that cannot be listed at all (missing root, malformed metadata), naming the file."""
