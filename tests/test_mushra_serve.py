"""serve-mushra: static files and webMUSHRA's write.php POST, on 127.0.0.1 with a bounded request loop."""

from __future__ import annotations

import csv
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mixrep.mushra.analysis import read_results
from mixrep.mushra.serve import make_server, sanitize, session_rows


def _session(uuid: str, score: float) -> dict:
    return {"testId": "MixRep Test", "uuid": uuid,
            "participant": {"name": ["alias", "age"], "response": ["ann", 31]},
            "trials": [{"type": "mushra", "id": "trial01",
                        "responses": [{"stimulus": "reference", "score": 100, "time": 5000, "comment": ""},
                                      {"stimulus": "transfer", "score": score, "time": 3000, "comment": "ok"}]},
                       {"type": "likert_single_stimulus", "id": "x", "responses": []}]}


def _post(url: str, session: dict | None, raw: bytes | None = None) -> tuple[int, str]:
    body = raw if raw is not None else urllib.parse.urlencode({"sessionJSON": json.dumps(session)}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_post_round_trip_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mixrep.yaml").write_text("testId: x\n")
    server = make_server(tmp_path, port=0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    requests = 4
    thread = threading.Thread(target=lambda: [server.handle_request() for _ in range(requests)], daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{base}/configs/mixrep.yaml", timeout=10) as response:
            assert response.read() == b"testId: x\n"
        assert _post(f"{base}/service/write.php", _session("u1", 70))[0] == 200
        assert _post(f"{base}/service/write.php", _session("u2", 55))[0] == 200
        status, text = _post(f"{base}/service/write.php", None, raw=b"sessionJSON=%7Bnot-json")
        assert status == 400
    finally:
        thread.join(timeout=10)
        server.server_close()
    assert not thread.is_alive()
    path = tmp_path / "results" / sanitize("MixRep Test") / "mushra.csv"
    assert path.parent.name == "mixrep-test"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["session_test_id", "alias", "age", "session_uuid", "trial_id", "rating_stimulus",
                       "rating_score", "rating_time", "rating_comment"]
    assert len(rows) == 5  # one header, two rows per session
    ratings = read_results(path)
    assert ratings.set_index(["assessor", "stimulus"]).loc[("u2", "transfer"), "score"] == 55


def test_session_rows_checks_shape() -> None:
    with pytest.raises(ValueError, match="questionnaire"):
        session_rows({"testId": "t", "participant": {"name": ["a"], "response": []}, "trials": []})


def test_only_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        make_server(tmp_path, port=0, host="0.0.0.0")
