"""Shared fixtures: where the repository, its reference data and the venv's tools are.

Also an audit of the files the suite opens: a test run must need nothing from the checkout's parent
folder beyond the repository itself (a sibling data folder, an old reference copy), or it passes here and
fails on a clean clone. `OutsideReads` records such opens; the last test of the session asserts there
were none (tests/test_paths.py).
"""

from __future__ import annotations

import getpass
import os
import site
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT / "tests" / "reference"
LAST_TEST = "test_nothing_was_read_outside_the_repository"  # moved to the end of the session
_AUDIT_KEY = pytest.StashKey["OutsideReads"]()


class OutsideReads:
    """Paths opened (Python's `open` audit event) under the repository's parent but outside the repository.

    Cheap: one string test per open, paths normalised with `os.path.normpath` (no file-system calls), so
    a symlink inside the repository that points out of it is not seen. System folders, the interpreter's
    prefixes and site-packages, and the temporary folder are allowed even where they lie in the parent.
    Only this process is audited, not the subprocesses tests start.
    """

    def __init__(self, repo_root: Path, allowed: tuple[str, ...] = ()):
        self.repo = os.path.normpath(str(repo_root))
        self.parent = os.path.dirname(self.repo)
        self.allowed = tuple(p if p.endswith("*") else os.path.normpath(p) for p in allowed)
        self.seen: list[str] = []
        self._sinks: list[list[str]] = []

    def hook(self, event: str, args: tuple) -> None:
        """The audit hook: must never raise (it would break the `open` it watches)."""
        if event != "open":
            return
        try:
            path = args[0]
            if path is None or isinstance(path, int):
                return
            path = os.fsdecode(path)
            if not os.path.isabs(path):
                path = os.path.join(os.getcwd(), path)
            path = os.path.normpath(path)
            if self.is_outside(path):
                (self._sinks[-1] if self._sinks else self.seen).append(path)
        except Exception:
            return

    def is_outside(self, path: str) -> bool:
        def under(folder: str) -> bool:
            return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

        def allowed(folder: str) -> bool:  # a trailing `*`: every folder whose name starts so
            return path.startswith(folder[:-1]) if folder.endswith("*") else under(folder)

        return under(self.parent) and not under(self.repo) and not any(allowed(a) for a in self.allowed)

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect the outside opens of a block into a list of its own instead of the session's."""
        sink: list[str] = []
        self._sinks.append(sink)
        try:
            yield sink
        finally:
            self._sinks.remove(sink)


def temp_roots(repo_root: Path) -> tuple[str, ...]:
    """The temporary folder the audit allows: all of it, unless the checkout itself lies in it.

    A clone in /tmp/x/main has its parent /tmp/x inside the temporary folder: allowing all of /tmp would hide
    a read of /tmp/x/shared. Then only the folders the suite writes temporary files to are allowed: pytest's
    `pytest-of-<user>` and the `tmp*` / `mixrep-*` folders of `tempfile`.
    """
    temp = os.path.normpath(tempfile.gettempdir())
    parent = os.path.dirname(os.path.normpath(str(repo_root)))
    if not (parent == temp or parent.startswith(temp + os.sep)):
        return (temp,)
    roots = [os.path.join(temp, f"pytest-of-{getpass.getuser()}")]
    if parent == temp:  # the folders `tempfile` makes (tmpXXXX, mixrep-fs-XXXX from corpus rendering) sit in it
        roots += [os.path.join(temp, "tmp*"), os.path.join(temp, "mixrep-fs-*")]
    return tuple(roots)


def pytest_configure(config: pytest.Config) -> None:
    if _AUDIT_KEY not in config.stash:  # audit hooks cannot be removed: register one per process
        allowed = (sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *temp_roots(REPO_ROOT))
        audit = OutsideReads(REPO_ROOT, allowed)
        sys.addaudithook(audit.hook)
        config.stash[_AUDIT_KEY] = audit


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the audit's verdict last, after every other test's fixtures had their chance to read."""
    last = [item for item in items if item.name == LAST_TEST]
    items[:] = [item for item in items if item.name != LAST_TEST] + last


@pytest.fixture(scope="session")
def outside_reads(request: pytest.FixtureRequest) -> OutsideReads:
    return request.config.stash[_AUDIT_KEY]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/reference: SCNet state-dict layouts and the tiny golden forward of the official code."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    """The folder holding this interpreter's console scripts (snakemake, mixrep)."""
    return Path(sys.executable).parent


@pytest.fixture
def tool_env(bin_dir: Path) -> dict[str, str]:
    """Environment for subprocesses: the venv's tools first on PATH, one thread each."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
