"""The one error convention of the `mixrep` command.

A stage that meets bad input raises `InputError(file, problem)`; `mixrep.cli.main` turns it (and any other
exception that escapes a subcommand) into one line `mixrep <cmd>: <file>: <problem>` on stderr and a non-zero
exit, so a user never reads a traceback from deep inside a library. `--debug` (before or after the command
name) shows the traceback as well.

Exit codes, the same for every command: 0 done; 1 done, but the answer is "no" (no usable track in the
manifest, a stale README block under `--check`); 2 bad input (a file, an option, a setting: the one line says
which); 3 an internal error (a bug: rerun with --debug).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_NO_RESULT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class InputError(Exception):
    """Bad input the user can fix: which file (or option, or config key) and what is wrong with it."""

    def __init__(self, file: str | Path | None, problem: str) -> None:
        self.file = None if file is None else str(file)
        self.problem = problem
        super().__init__(self.line_body())

    def line_body(self) -> str:
        return self.problem if self.file is None else f"{self.file}: {self.problem}"


def one_line(command: str, exc: BaseException) -> tuple[str, int]:
    """The message and exit code `mixrep <command>` reports for an exception that escaped it."""
    prefix = f"mixrep {command}: "
    if isinstance(exc, InputError):
        return prefix + exc.line_body(), EXIT_BAD_INPUT
    if isinstance(exc, SystemExit):
        text = str(exc.code)
        if text.startswith(prefix):
            text = text[len(prefix):]
        elif text.startswith(f"{command}: "):
            text = text[len(command) + 2:]
        return prefix + text, EXIT_BAD_INPUT
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or exc.__class__.__name__
        return prefix + f"{exc.filename}: {reason}", EXIT_BAD_INPUT
    if isinstance(exc, KeyboardInterrupt):
        return prefix + "interrupted", 130
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return prefix + f"{exc.__class__.__name__}: {text} (rerun with --debug for the traceback)", EXIT_INTERNAL


class TableError(InputError, ValueError):
    """A table input that is missing, unreadable or lacks columns (a ValueError too, for older callers)."""


@dataclass(frozen=True)
class Rejected:
    """A track a stage could not use, and why: listed in the stage's rejected table, never dropped silently."""

    track_id: str
    reason: str
