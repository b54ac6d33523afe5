"""Soak on loopback: concurrent participants interleaved with every malformed request and stalled connections.

Bounded: a fixed number of requests, 1 s socket timeouts, and a wall-clock assertion; the server is stopped
by the fixture. Every valid session must be stored exactly once, every malformed request answered with its
status and logged, and the server must still answer afterwards.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from mixrep.mushra.analysis import read_results
from mixrep.mushra.serve import MAX_BODY
from test_mushra_serve import MALFORMED, WRITE, Running, client_body, form_body, get, http, post, server, session

__all__ = ["server"]  # the fixture, imported for this module's tests

PARTICIPANTS = 24
STALLED = 40


def _stall(port: int) -> int | None:
    """A post announcing more body than it sends (the old server held a thread for each, forever)."""
    return http(port, f"POST {WRITE} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nsessionJSON=".encode())[0]


def test_soak(server: Running) -> None:
    rng = random.Random(0)
    jobs: list[tuple[str, object]] = []
    for k in range(PARTICIPANTS):
        names = ("alias", "age") if k % 3 else ("alias", "age", "experience")  # two layouts interleaved
        body = client_body(session(f"p{k:02d}", score=str(rng.randint(0, 100)), names=names)) if k % 2 else \
            form_body(session(f"p{k:02d}", score=rng.randint(0, 100), names=names))
        jobs.append(("valid", body))
        if k % 4 == 0:  # a retried post of the same session: stored once
            jobs.append(("retry", body))
    jobs += [("malformed", name) for name in MALFORMED] * 2
    jobs += [("stall", None)] * STALLED + [("oversized", None)] * 2
    rng.shuffle(jobs)

    def run(job: tuple[str, object]) -> tuple[str, object, int | None]:
        kind, what = job
        if kind in ("valid", "retry"):
            return kind, what, post(server.port, what)[0]
        if kind == "stall":
            return kind, what, _stall(server.port)
        if kind == "oversized":  # 17 MiB
            return kind, what, post(server.port, b"sessionJSON=" + b"x" * (MAX_BODY + 1024 * 1024))[0]
        return kind, what, http(server.port, MALFORMED[what][0])[0]

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(run, jobs))
    elapsed = time.monotonic() - start
    codes = Counter(status for _, _, status in outcomes)
    print(f"soak: {len(jobs)} requests on 48 threads in {elapsed:.1f} s; answers {dict(sorted(codes.items()))}")
    assert elapsed < 20.0

    for kind, what, status in outcomes:
        if kind in ("valid", "retry"):
            assert status == 200, (kind, status)
        elif kind == "stall":
            assert status in (408, 503), status  # timed out, or refused beyond the connection cap
        elif kind == "oversized":
            assert status == 413
        else:
            assert status == MALFORMED[what][1], (what, status)
    stored = {}
    for path in sorted(server.results.glob("mushra*.csv")):
        ratings = read_results(path)  # readable: no row under another header, no duplicates
        for assessor, group in ratings.groupby("assessor"):
            assert assessor not in stored
            stored[assessor] = len(group)
    assert stored == {f"p{k:02d}": 2 for k in range(PARTICIPANTS)}
    assert len(list(server.results.glob("mushra*.csv"))) == 2
    answered_errors = sum(1 for line in server.log if line.split()[1:2] and line.split()[1].isdigit()
                          and int(line.split()[1]) >= 400)
    assert answered_errors >= 2 * len(MALFORMED) + STALLED + 2
    assert get(server.port, "/configs/mixrep.yaml") == (200, b"testId: x\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    assert threading.active_count() < 100
