"""What a directory entry that looks like an input file really is: a file, or a link that leads nowhere.

`Path.is_file()` is False for a dangling symlink, a symlink loop and a FIFO alike, so a listing that keeps
only `is_file()` entries drops them without a word, and the manifest no longer has one row per input
file. Sources list every entry with `lexists` and ask `entry_problem` why one cannot be read; the
answer becomes the entry's rejection reason. Links to readable files are followed (they are files), and
`duplicate_of` finds entries that are one file reached twice, so the same audio never lands in two
splits.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Mapping

from mixrep.datasets.records import Reason


def entry_problem(path: str | Path) -> str | None:
    """The rejection reason of an entry that cannot be read as a file (None: it is a regular file)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode  # follows links
    except OSError as exc:
        if not path.is_symlink():
            return Reason.MISSING_FILE.with_detail(f"{path} not found")
        if _is_loop(path, exc):
            return Reason.SYMLINK_LOOP.with_detail(f"{path} -> {os.readlink(path)}")
        return Reason.BROKEN_LINK.with_detail(f"{path} -> {os.readlink(path)}")
    if not stat.S_ISREG(mode):
        return Reason.NOT_A_FILE.with_detail(f"{path} is a {_kind(mode)}")
    return None


def _is_loop(path: Path, exc: OSError) -> bool:
    """ELOOP from the kernel, or a chain of links that comes back to itself."""
    if exc.errno == errno.ELOOP:
        return True
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return True
    except OSError as inner:
        return inner.errno == errno.ELOOP
    return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def duplicate_of(paths: Mapping[str, str | Path]) -> dict[str, str]:
    """id -> id of the entry it duplicates, for entries that reach one file (symlinks, hard links).

    Of a group reaching one file the entry that is not a symlink is kept (the file itself), else the
    first id in string order; every other entry of the group maps to the kept one. Entries that cannot
    be read are ignored (`entry_problem` rejects them).
    """
    groups: dict[tuple[int, int], list[str]] = {}
    for key in sorted(paths):
        try:
            info = os.stat(paths[key])
        except (OSError, RuntimeError):
            continue
        if stat.S_ISREG(info.st_mode):
            groups.setdefault((info.st_dev, info.st_ino), []).append(key)
    duplicates: dict[str, str] = {}
    for keys in groups.values():
        if len(keys) > 1:
            kept = next((k for k in keys if not Path(paths[k]).is_symlink()), keys[0])
            duplicates.update({k: kept for k in keys if k != kept})
    return duplicates
