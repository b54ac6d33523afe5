"""Serve a webMUSHRA folder on 127.0.0.1 and store results like webMUSHRA's `service/write.php`, without PHP.

GET requests are answered from the folder (the webMUSHRA app, configs/, stimuli/). A POST to
`service/write.php` carries the session as the form field `sessionJSON`; its MUSHRA trials are appended to
`<folder>/results/<testId>/mushra.csv` with write.php's columns: `session_test_id`, one column per
questionnaire item, `session_uuid`, `trial_id`, `rating_stimulus`, `rating_score`, `rating_time`,
`rating_comment`. As in write.php, the header is written only when the file is new.
"""

from __future__ import annotations

import csv
import http.server
import json
import re
import threading
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WRITE_PATH = "/service/write.php"
MAX_BODY = 16 * 1024 * 1024
FIXED_COLUMNS = ("session_uuid", "trial_id", "rating_stimulus", "rating_score", "rating_time", "rating_comment")
_LOCK = threading.Lock()


class SessionError(ValueError):
    """A posted session that cannot be stored, with the reason."""


def sanitize(name: str) -> str:
    """write.php's folder name for a testId: runs of non-word characters -> '-', lower case."""
    return re.sub(r"--+", "-", re.sub(r"[^\w\-]+", "-", str(name))).lower()


def session_rows(session: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the MUSHRA trials of one webMUSHRA session object."""
    try:
        test_id = session["testId"]
        participant = session.get("participant") or {"name": [], "response": []}
        names, responses = list(participant.get("name", [])), list(participant.get("response", []))
        trials = session["trials"]
    except (KeyError, TypeError) as exc:
        raise SessionError(f"session lacks {exc}") from None
    if len(names) != len(responses):
        raise SessionError(f"{len(names)} questionnaire names but {len(responses)} responses")
    header = ["session_test_id", *names, *FIXED_COLUMNS]
    rows = []
    for trial in trials:
        if trial.get("type") != "mushra":
            continue
        for response in trial.get("responses", []):
            rows.append([test_id, *responses, session.get("uuid", ""), trial.get("id", ""),
                         response.get("stimulus", ""), response.get("score", ""), response.get("time", ""),
                         response.get("comment", "")])
    return header, rows


def store_session(results_dir: str | Path, session: dict[str, Any]) -> Path | None:
    """Append a session's MUSHRA rows to results/<testId>/mushra.csv; None when it holds no MUSHRA trial."""
    header, rows = session_rows(session)
    if not rows:
        return None
    folder = Path(results_dir) / sanitize(session["testId"])
    path = folder / "mushra.csv"
    with _LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(header)
            writer.writerows(rows)
    return path


class MushraHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from the experiment folder + webMUSHRA's result service."""

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        self.results_dir = Path(directory) / "results"
        super().__init__(*args, directory=directory, **kwargs)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if urlsplit(self.path).path != WRITE_PATH:
            self.send_error(404, f"POST only to {WRITE_PATH}")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self.send_error(400, f"body of {length} bytes (expected 1..{MAX_BODY})")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            values = parse_qs(body, keep_blank_values=True).get("sessionJSON")
            if not values:
                raise SessionError("no sessionJSON form field")
            session = json.loads(values[0])
            if not isinstance(session, dict):
                raise SessionError("sessionJSON is not an object")
            path = store_session(self.results_dir, session)
        except (SessionError, json.JSONDecodeError) as exc:
            self.send_error(400, f"cannot store results: {exc}")
            return
        message = f"stored in {path.relative_to(self.results_dir.parent)}" if path else "no MUSHRA trials"
        payload = message.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        print(f"{self.address_string()} {format % args}", flush=True)


class MushraServer(http.server.ThreadingHTTPServer):
    """Threaded server whose close waits for requests in flight (a bounded run never cuts the last answer)."""

    daemon_threads = False
    block_on_close = True


def make_server(directory: str | Path, port: int = 8000, host: str = "127.0.0.1") -> MushraServer:
    """An HTTP server for `directory`, bound to loopback only (port 0 = any free port)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a folder")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to serve on {host!r}: listening tests are served on loopback only")
    handler = partial(MushraHandler, directory=str(directory))
    return MushraServer((host, port), handler)


def serve(directory: str | Path, port: int = 8000, max_requests: int | None = None) -> None:
    """Serve until interrupted, or for `max_requests` requests (tests use a bounded loop)."""
    with make_server(directory, port) as server:
        host, bound = server.server_address[:2]
        print(f"serving {directory} on http://{host}:{bound}/ (results -> {Path(directory) / 'results'})", flush=True)
        if max_requests is None:
            server.serve_forever()
        else:
            for _ in range(max_requests):
                server.handle_request()
