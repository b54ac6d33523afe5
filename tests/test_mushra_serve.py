"""serve-mushra on 127.0.0.1: what webMUSHRA's client posts is stored exactly once; everything else is answered.

Each malformed case below was measured to raise inside the old handler (no answer), hang, reset the client or
misfile rows; each must now get its HTTP status, a log line, and leave the results untouched.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mixrep.mushra.analysis import read_results
from mixrep.mushra.serve import MAX_BODY, ServerLimits, make_server, sanitize

TEST_ID = "MixRep Test"
WRITE = "/service/write.php"


@dataclass
class Running:
    root: Path
    port: int
    log: list[str] = field(default_factory=list)

    @property
    def results(self) -> Path:
        return self.root / "results" / sanitize(TEST_ID)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    root = tmp_path / "package"
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "mixrep.yaml").write_text("testId: x\n")
    (root / "stimuli" / "p1").mkdir(parents=True)
    (root / "stimuli" / "p1" / "reference.wav").write_bytes(b"RIFF0000WAVE")
    (root / "index.html").write_text("<html>webMUSHRA</html>")
    running = Running(root, 0)
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            running.log.append(line)

    srv = make_server(root, port=0, limits=ServerLimits(socket_timeout=1.0, body_deadline=3.0), log=log)
    running.port = srv.server_address[1]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def session(uuid: str, score: float | str = "70", names: tuple[str, ...] = ("alias", "age"),
            comment: object = None) -> dict:
    """A session as webMUSHRA's client builds it (slider value as text, comment null)."""
    return {"testId": TEST_ID, "uuid": uuid,
            "participant": {"name": list(names), "response": [f"r-{n}" for n in names]},
            "trials": [{"id": "welcome", "type": "generic", "responses": []},
                       {"id": "trial01", "type": "mushra",
                        "responses": [{"stimulus": "reference", "score": "100", "time": 5000, "comment": comment},
                                      {"stimulus": "transfer", "score": score, "time": 5000, "comment": comment}]}]}


def client_body(obj: object) -> bytes:
    """Exactly webMUSHRA's DataSender: "sessionJSON=" + JSON.stringify(session), not URL-encoded."""
    return ("sessionJSON=" + json.dumps(obj, separators=(",", ":"), ensure_ascii=False)).encode("utf-8")


def form_body(obj: object) -> bytes:
    return urllib.parse.urlencode({"sessionJSON": json.dumps(obj)}).encode()


def http(port: int, request: bytes, wait: float = 8.0, shut: bool = False) -> tuple[int | None, bytes]:
    """Send raw bytes; return (status, body) of the answer, or (None, b"") when none came."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(request)
            if shut:
                sock.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            return (int(data.split()[1]) if data.startswith(b"HTTP/") else None), b""
    if not data.startswith(b"HTTP/"):
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def post(port: int, body: bytes, path: str = WRITE, headers: str | None = None) -> tuple[int | None, bytes]:
    headers = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
    return http(port, (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       f"{headers}Connection: close\r\n\r\n").encode() + body)


def get(port: int, path: str) -> tuple[int | None, bytes]:
    return http(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_webmushra_client_post_is_stored_exactly(server: Running) -> None:
    comment = "a+b & 100% ok, \"quoted\", Größe\nsecond line"
    assert post(server.port, client_body(session("u1", comment=comment))) == (200, b"")  # empty: success
    assert post(server.port, form_body(session("u2", score=55.5))) == (200, b"")
    assert post(server.port, client_body(session("u1", comment="retry"))) == (200, b"")  # same uuid: once
    rows = csv_rows(server.results / "mushra.csv")
    assert rows[0] == ["session_test_id", "alias", "age", "session_uuid", "trial_id", "rating_stimulus",
                       "rating_score", "rating_time", "rating_comment"]
    assert rows[1:] == [[TEST_ID, "r-alias", "r-age", "u1", "trial01", "reference", "100", "5000", comment],
                        [TEST_ID, "r-alias", "r-age", "u1", "trial01", "transfer", "70", "5000", comment],
                        [TEST_ID, "r-alias", "r-age", "u2", "trial01", "reference", "100", "5000", ""],
                        [TEST_ID, "r-alias", "r-age", "u2", "trial01", "transfer", "55.5", "5000", ""]]
    ratings = read_results(server.results / "mushra.csv")
    assert ratings.set_index(["assessor", "stimulus"]).loc[("u2", "transfer"), "score"] == 55.5
    assert any("u1 already stored" in line for line in server.log)


def test_a_client_without_session_uuid_is_still_stored(server: Running) -> None:
    """webMUSHRA 1.4.3 (the last release before the uuid) posts no uuid: each post is its own assessor."""
    old = {k: v for k, v in session("ignored").items() if k != "uuid"}
    assert post(server.port, client_body(old)) == (200, b"")
    assert post(server.port, client_body(old)) == (200, b"")
    ratings = read_results(server.results / "mushra.csv")
    assert ratings["assessor"].nunique() == 2 and ratings["assessor"].str.startswith("server-").all()


def test_each_questionnaire_layout_gets_its_own_file(server: Running) -> None:
    layouts = [("alias", "age"), ("alias", "age", "experience"), ("email",), ()]
    for k, names in enumerate(layouts * 2):
        assert post(server.port, client_body(session(f"s{k}", names=names))) == (200, b"")
    files = sorted(server.results.glob("mushra*.csv"))
    assert len(files) == len(layouts)
    seen = set()
    for path in files:
        rows = csv_rows(path)
        assert all(len(row) == len(rows[0]) for row in rows)  # no row under another header
        names = tuple(rows[0][1:-6])
        assert names in layouts and names not in seen
        seen.add(names)
        col = rows[0].index("session_uuid")
        assert {row[col] for row in rows[1:]} == {f"s{k}" for k in (layouts.index(names), layouts.index(names) + 4)}
        assert len(read_results(path)) == 4


MALFORMED: dict[str, tuple[bytes, int]] = {}


def _malformed_cases() -> dict[str, tuple[bytes, int]]:
    def raw_post(body: bytes, headers: str | None = None, path: str = WRITE) -> bytes:
        headers = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").encode() + body

    bad = session("bad")
    cases = {
        "trials is an object": ({**bad, "trials": {"a": 1}}, 400),
        "responses is a string": ({**bad, "trials": [{"type": "mushra", "id": "t", "responses": "x"}]}, 400),
        "participant is a list": ({**bad, "participant": ["a"]}, 400),
        "names are numbers": ({**bad, "participant": {"name": [1], "response": ["a"]}}, 400),
        "score out of range": (session("bad", score="150"), 400),
        "score not a number": (session("bad", score="great"), 400),
        "uuid is null": ({**bad, "uuid": None}, 400),
        "uuid is empty": ({**bad, "uuid": " "}, 400),
        "session is an array": ([1, 2], 400),
    }
    out = {name: (raw_post(client_body(obj)), code) for name, (obj, code) in cases.items()}
    out["100000-deep JSON"] = (raw_post(b"sessionJSON=" + b"[" * 100_000 + b"]" * 100_000), 400)
    out["not JSON"] = (raw_post(b"sessionJSON=%7Bnot-json"), 400)
    out["not UTF-8"] = (raw_post(b"sessionJSON={\"testId\":\"\xff\"}"), 400)
    out["no sessionJSON"] = (raw_post(b"other=1"), 400)
    out["Content-Length abc"] = (raw_post(b"sessionJSON={}", "Content-Length: abc\r\n"), 400)
    out["negative Content-Length"] = (raw_post(b"", "Content-Length: -5\r\n"), 400)
    out["no Content-Length"] = (raw_post(b"", ""), 411)
    out["chunked"] = (raw_post(b"0\r\n\r\n", "Transfer-Encoding: chunked\r\n"), 411)
    out["POST elsewhere"] = (raw_post(b"a=1", path="/index.html"), 404)
    out["NUL in URL (raw)"] = (b"GET /configs/a\x00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400)
    out["NUL in URL (%00)"] = (b"GET /configs/%00mixrep.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400)
    out["GET results folder"] = (b"GET /results/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 403)
    out["GET a results file"] = (b"GET /results/mixrep-test/mushra.csv HTTP/1.1\r\nHost: x\r\n\r\n", 403)
    out["GET results, encoded"] = (b"GET /stimuli/..%2Fresults/ HTTP/1.1\r\nHost: x\r\n\r\n", 403)
    out["listing"] = (b"GET /stimuli/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404)
    out["traversal"] = (b"GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404)
    out["GET write.php"] = (b"GET /service/write.php HTTP/1.1\r\nHost: x\r\n\r\n", 405)
    return out


MALFORMED = _malformed_cases()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_request_is_answered_and_logged(server: Running, name: str) -> None:
    request, code = MALFORMED[name]
    status, body = http(server.port, request)
    assert status == code, (name, status, body)
    assert any(f" {code} " in line or line.split()[1:2] == [str(code)] for line in server.log), server.log
    assert not list((server.root / "results").rglob("*.csv"))
    assert get(server.port, "/configs/mixrep.yaml") == (200, b"testId: x\n")  # still serving


def test_short_body_times_out_with_408(server: Running) -> None:
    start = time.monotonic()
    status, body = http(server.port, f"POST {WRITE} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nsess".encode())
    assert status == 408 and b"timed out" in body
    assert time.monotonic() - start < 4.0  # the 1 s socket timeout, not forever


def test_oversized_body_gets_its_413(server: Running) -> None:
    body = b"sessionJSON=" + b"x" * (MAX_BODY + 1024 * 1024)  # 17 MiB
    status, text = post(server.port, body)
    assert status == 413 and b"exceeds" in text


def test_symlinks_out_of_the_package_are_refused(server: Running, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    os.symlink(outside, server.root / "stimuli" / "link.txt")
    os.symlink("/etc", server.root / "configs" / "etc")
    os.symlink(server.root / "configs" / "mixrep.yaml", server.root / "stimuli" / "inside.yaml")
    assert get(server.port, "/stimuli/link.txt")[0] == 403
    assert get(server.port, "/configs/etc/passwd")[0] == 403
    assert get(server.port, "/stimuli/inside.yaml") == (200, b"testId: x\n")  # a link within is fine
    assert get(server.port, "/stimuli/p1/reference.wav") == (200, b"RIFF0000WAVE")
    assert get(server.port, "/")[1] == b"<html>webMUSHRA</html>"


def test_only_loopback(tmp_path: Path) -> None:
    from mixrep.errors import InputError

    with pytest.raises(InputError, match="loopback"):
        make_server(tmp_path, port=0, host="0.0.0.0")


def test_store_appends_whole_sessions_after_a_torn_line(tmp_path: Path) -> None:
    """A line torn by an earlier crash stays one malformed line; the next session's rows are intact."""
    from mixrep.mushra.analysis import RatingsError
    from mixrep.mushra.session import parse_session
    from mixrep.mushra.store import ResultStore

    store = ResultStore(tmp_path)
    first = store.store(parse_session(session("a")))
    assert first.rows == 2 and first.path == tmp_path / sanitize(TEST_ID) / "mushra.csv"
    with first.path.open("a", encoding="utf-8") as handle:
        handle.write(f"{TEST_ID},r-alias,r-age,torn,trial01,refer")  # no newline: a crash mid-write
    assert store.store(parse_session(session("b"))).rows == 2
    rows = csv_rows(first.path)
    assert [r[3] for r in rows[1:]] == ["a", "a", "torn", "b", "b"]
    assert rows[4] == [TEST_ID, "r-alias", "r-age", "b", "trial01", "reference", "100", "5000", ""]
    with pytest.raises(RatingsError, match="row 4: 6 fields, header has 9"):
        read_results(first.path)
    assert store.store(parse_session(session("b"))).duplicate  # uuids are known across calls
    fresh = ResultStore(tmp_path)  # ... and after a restart, from the files
    assert fresh.store(parse_session(session("a"))).duplicate
