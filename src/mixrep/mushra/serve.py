"""Serve a webMUSHRA folder on 127.0.0.1 and store results like webMUSHRA's `service/write.php`, without PHP.

GET/HEAD are answered from the folder (the webMUSHRA app, configs/, stimuli/), but never from `results/`
(write-only over HTTP), never as a directory listing, and never for a path that resolves outside the folder
(symbolic links included). A POST to `service/write.php` carries the session in the form field `sessionJSON`
(`session.decode_form`); it is checked (`session.parse_session`) and its MUSHRA trials appended by
`store.ResultStore` to `results/<testId>/mushra*.csv` with write.php's columns.

Every request gets an HTTP answer and a log line: 200 with an empty body when stored (webMUSHRA's client
counts any response text as a failure), else 400 / 403 / 404 / 405 / 408 / 411 / 413 / 500 / 503 with a
short reason. Sockets time out, a body is bounded and read against a deadline, a refused body is drained
first (so the client reads the answer instead of a reset connection), and the number of connections is capped.
"""

from __future__ import annotations

import http.server
import os
import posixpath
import socket
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mixrep.errors import InputError
from mixrep.mushra.session import SessionError, decode_form, parse_session
from mixrep.mushra.store import ResultStore, sanitize  # noqa: F401 (sanitize: part of this module's API)

WRITE_PATH = "/service/write.php"
RESULTS = "results"
MAX_BODY = 16 * 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024  # a refused body up to this size is read and dropped, so the 413 arrives
CHUNK = 64 * 1024
LINGER_S = 2.0  # how long a closing connection is read from before it is closed


class ServerLimits:
    """Timeouts and bounds of one server (seconds, bytes, connections)."""

    def __init__(self, socket_timeout: float = 10.0, body_deadline: float = 30.0, max_body: int = MAX_BODY,
                 max_connections: int = 64) -> None:
        self.socket_timeout = socket_timeout
        self.body_deadline = body_deadline
        self.max_body = max_body
        self.max_connections = max_connections


class _Refused(Exception):
    """An answer other than 200, with its code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class MushraHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from the experiment folder + webMUSHRA's result service."""

    server: "MushraServer"

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        self.root = os.path.realpath(directory)
        super().__init__(*args, directory=directory, **kwargs)

    def setup(self) -> None:
        self.timeout = self.server.limits.socket_timeout
        super().setup()

    def handle_one_request(self) -> None:
        self._answered = False  # one connection may carry several requests
        super().handle_one_request()

    # --- every method goes through one guard: an answer, whatever happens -------------------------------
    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except _Refused as exc:
            self._reply(exc.code, exc.reason)
        except (TimeoutError, socket.timeout):
            self._reply(408, "request timed out")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.log_message("client went away")
        except Exception as exc:  # noqa: BLE001 (the guard: log it, answer 500, keep serving)
            self.log_message("internal error: %s: %s", type(exc).__name__, exc)
            self._reply(500, "internal error")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(lambda: self._static(head=False))

    def do_HEAD(self) -> None:  # noqa: N802
        self._guarded(lambda: self._static(head=True))

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def _reply(self, code: int, reason: str) -> None:
        """A short text answer; after an error the connection is closed (its rest is not trusted)."""
        if getattr(self, "_answered", False):
            self.close_connection = True
            return
        payload = (reason + "\n").encode("utf-8") if code != 200 else b""
        if code != 200:
            self.log_message("%d %s: %s", code, self.command, reason)
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if code != 200:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    # --- GET / HEAD ------------------------------------------------------------------------------------
    def _static(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if any(ord(c) < 0x20 or c == "\x7f" for c in path):
            raise _Refused(400, "control character in the path")
        parts = [p for p in posixpath.normpath(path).split("/") if p]
        if parts and parts[0] == RESULTS:
            raise _Refused(403, "results are write-only")
        if path == WRITE_PATH:
            raise _Refused(405, f"{WRITE_PATH} takes POST only")
        target = os.path.realpath(self.translate_path(self.path))
        if os.path.commonpath([self.root, target]) != self.root:
            raise _Refused(403, "outside the served folder")
        if os.path.commonpath([os.path.join(self.root, RESULTS), target]) == os.path.join(self.root, RESULTS):
            raise _Refused(403, "results are write-only")
        if not os.path.exists(target):
            raise _Refused(404, "not found")
        if os.path.isdir(target) and not os.path.isfile(os.path.join(target, "index.html")):
            raise _Refused(404, "no directory listing")
        handle = self.send_head()
        if handle is not None:
            try:
                if not head:
                    self.copyfile(handle, self.wfile)
            finally:
                handle.close()

    def list_directory(self, path: str | os.PathLike[str]) -> None:  # noqa: ARG002 (base signature)
        raise _Refused(404, "no directory listing")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, headers) as our short answers, logged."""
        if code >= 400:
            self._reply(code, message or self.responses.get(code, ("error",))[0])
            return
        super().send_error(code, message, explain)

    def parse_request(self) -> bool:
        """http.server's header parsing, with a stalled header block answered 408 (not dropped)."""
        try:
            return super().parse_request()
        except (TimeoutError, socket.timeout):
            self._reply(408, "request headers timed out")
            return False

    # --- POST ------------------------------------------------------------------------------------------
    def _post(self) -> None:
        limits = self.server.limits
        if self.headers.get("Transfer-Encoding"):
            raise _Refused(411, "send a Content-Length (chunked bodies are not accepted)")
        text = self.headers.get("Content-Length")
        if text is None:
            raise _Refused(411, "Content-Length required")
        if not (text.strip().isascii() and text.strip().isdigit()):
            raise _Refused(400, f"Content-Length {text[:40]!r} is not a number")
        length = int(text)
        if length > limits.max_body:
            self._drain(length)
            raise _Refused(413, f"body of {length} bytes exceeds {limits.max_body}")
        body = self._read_body(length)
        if urlsplit(self.path).path != WRITE_PATH:
            raise _Refused(404, f"POST only to {WRITE_PATH}")
        if length == 0:
            raise _Refused(400, "empty body")
        try:
            session = parse_session(decode_form(body))
        except SessionError as exc:
            raise _Refused(400, f"cannot store results: {exc}") from None
        stored = self.server.store.store(session)
        if stored.duplicate:
            what = f"session {session.uuid} already stored in {stored.path.name}"
        elif stored.path is None:
            what = f"session {session.uuid}: no MUSHRA trials, nothing stored"
        else:
            what = f"session {session.uuid}: {stored.rows} rows -> {stored.path.relative_to(self.root_path)}"
        self.log_message("stored %s", what)
        self._reply(200, "")

    @property
    def root_path(self) -> Path:
        return Path(self.directory)

    def _read_body(self, length: int) -> bytes:
        deadline = time.monotonic() + self.server.limits.body_deadline
        chunks, left = [], length
        while left > 0:
            if time.monotonic() > deadline:
                raise _Refused(408, "body not received in time")
            chunk = self.rfile.read1(min(left, CHUNK))
            if not chunk:
                raise _Refused(400, f"body ended {left} bytes short of Content-Length")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _drain(self, length: int) -> None:
        """Read and drop a refused body (bounded), so closing the socket does not reset the client."""
        if length > DRAIN_LIMIT:
            return
        deadline = time.monotonic() + self.server.limits.body_deadline
        left = length
        while left > 0 and time.monotonic() < deadline:
            chunk = self.rfile.read1(min(left, CHUNK))
            if not chunk:
                break
            left -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        self.server.log(f"{self.address_string()} {format % args}")


class MushraServer(http.server.ThreadingHTTPServer):
    """Threaded server with a connection cap; close waits for requests in flight (bounded by the timeouts)."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Callable[..., Any], results_dir: Path,
                 limits: ServerLimits, log: Callable[[str], None]) -> None:
        self.limits = limits
        self.log = log
        self.store = ResultStore(results_dir)
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.log(f"{client_address[0]} 503: more than {self.limits.max_connections} connections")
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                b"Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def shutdown_request(self, request: Any) -> None:
        """A lingering close: stop sending, read what the client still sends (bounded), then close.

        Closing a socket with unread data makes the kernel reset the connection, and the client then loses
        the answer it was sent (a refused 17 MiB post saw a broken pipe instead of its 413).
        """
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_S)
            deadline, total = time.monotonic() + LINGER_S, 0
            while total < DRAIN_LIMIT and time.monotonic() < deadline:
                data = request.recv(CHUNK)
                if not data:
                    break
                total += len(data)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        self.log(f"{client_address[0]} connection error: {type(exc).__name__}: {exc}")


class StdoutLog:
    """One whole line per write, under a lock (print() from many threads interleaves line and newline)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def make_server(directory: str | Path, port: int = 8000, host: str = "127.0.0.1",
                limits: ServerLimits | None = None, log: Callable[[str], None] | None = None) -> MushraServer:
    """An HTTP server for `directory`, bound to loopback only (port 0 = any free port)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a folder (the webMUSHRA package to serve)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(host, "refusing to serve there: listening tests are served on loopback only")
    handler = partial(MushraHandler, directory=str(directory))
    try:
        return MushraServer((host, port), handler, directory / RESULTS, limits or ServerLimits(),
                            log or StdoutLog())
    except OSError as exc:
        raise InputError(f"{host}:{port}", f"cannot listen ({exc.strerror or exc})") from None


def serve(directory: str | Path, port: int = 8000, max_requests: int | None = None) -> None:
    """Serve until interrupted, or for `max_requests` requests (tests use a bounded loop)."""
    with make_server(directory, port) as server:
        host, bound = server.server_address[:2]
        print(f"serving {directory} on http://{host}:{bound}/ (results -> {Path(directory) / RESULTS})", flush=True)
        if max_requests is None:
            server.serve_forever()
        else:
            for _ in range(max_requests):
                server.handle_request()
