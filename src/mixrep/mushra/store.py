"""Append checked sessions to `results/<testId>/mushra*.csv` so that no row is lost, doubled or misfiled.

write.php appends every session under the header of the first one; a later session with another
questionnaire then lands in the wrong columns. Here a row only ever goes under its own header: the file of a
(test id, questionnaire layout) is `mushra.csv` when that file is new or has the same header, otherwise
`mushra-<hash of the header>.csv`. Each append is one `write` of the whole session (header included for a new
file) under a thread lock and an exclusive `flock`, then `fsync`: a crash leaves a session either stored or
absent. A session whose uuid is already stored in the test's files is not stored again (a retried post).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from mixrep.mushra.session import Session

MAIN_NAME = "mushra.csv"


def sanitize(name: str) -> str:
    """write.php's folder name for a testId: runs of non-word characters -> '-', lower case."""
    return re.sub(r"--+", "-", re.sub(r"[^\w\-]+", "-", str(name))).lower()


@dataclass(frozen=True)
class Stored:
    """What became of a session: the file, the rows written (0 for a duplicate or no MUSHRA trial)."""

    path: Path | None
    rows: int
    duplicate: bool = False


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def layout_name(header: list[str]) -> str:
    return "mushra-" + hashlib.sha1("\x1f".join(header).encode("utf-8")).hexdigest()[:10] + ".csv"


class ResultStore:
    """The results folder of one server; safe to call from many threads (and processes, via flock)."""

    def __init__(self, results_dir: str | Path) -> None:
        self.results_dir = Path(results_dir)
        self._lock = threading.Lock()
        self._uuids: dict[Path, set[str]] = {}  # test folder -> session uuids stored in its CSVs

    def store(self, session: Session) -> Stored:
        rows = session.rows()
        if not rows:
            return Stored(None, 0)
        header = session.header()
        folder = self.results_dir / sanitize(session.test_id)
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            uuids = self._known(folder)
            path = self._file_for(folder, header)
            if session.uuid in uuids:
                return Stored(path, 0, duplicate=True)
            self._append(path, header, rows)
            uuids.add(session.uuid)
        return Stored(path, len(rows))

    def _known(self, folder: Path) -> set[str]:
        if folder not in self._uuids:
            found: set[str] = set()
            for path in sorted(folder.glob("mushra*.csv")):
                with path.open(newline="", encoding="utf-8", errors="replace") as handle:
                    reader = csv.reader(handle)
                    header = next(reader, [])
                    if "session_uuid" in header:
                        col = header.index("session_uuid")
                        found.update(row[col] for row in reader if len(row) > col)
            self._uuids[folder] = found
        return self._uuids[folder]

    @staticmethod
    def _header_of(path: Path) -> list[str] | None:
        if not path.exists() or path.stat().st_size == 0:
            return None
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            return next(csv.reader(handle), [])

    def _file_for(self, folder: Path, header: list[str]) -> Path:
        main = folder / MAIN_NAME
        existing = self._header_of(main)
        if existing is None or existing == header:
            return main
        other = folder / layout_name(header)
        existing = self._header_of(other)
        if existing is not None and existing != header:
            raise OSError(f"{other}: header does not match its name; not appending")
        return other

    @staticmethod
    def _append(path: Path, header: list[str], rows: list[list[str]]) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            text = _csv_text(rows)
            if size == 0:
                text = _csv_text([header]) + text
            else:
                with open(path, "rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":  # a torn earlier line stays one malformed line, not two
                        text = "\n" + text
            data = memoryview(text.encode("utf-8"))
            while data:
                written = os.write(fd, data)
                data = data[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if size == 0:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
