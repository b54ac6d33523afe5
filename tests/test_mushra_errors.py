"""The mushra commands end bad input in one line `mixrep <cmd>: <file>: <problem>` (exit 2), no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest

from mixrep import cli
from test_mushra_package import _write_inputs


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], command: str, file: str, sep: str = ": ") -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith(f"mixrep {command}: {file}{sep}"), err
    return err


@pytest.mark.parametrize("missing", ["transfer/summary.csv", "manifest.parquet", "index.parquet",
                                     "recipes.parquet"])
def test_package_with_a_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], missing: str) -> None:
    args = _write_inputs(tmp_path)
    (tmp_path / missing).unlink()
    err = _one_line(capsys, ["mushra-package", *args], "mushra-package", str(tmp_path / missing))
    assert "no such file" in err


def test_package_with_an_unreadable_or_incomplete_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _write_inputs(tmp_path)
    (tmp_path / "recipes.parquet").write_bytes(b"not parquet")
    assert "cannot read the recipes table" in _one_line(capsys, ["mushra-package", *args], "mushra-package",
                                              str(tmp_path / "recipes.parquet"))
    args = _write_inputs(tmp_path)
    pd.DataFrame({"pair": ["p1"]}).to_csv(tmp_path / "transfer" / "summary.csv")
    assert "lacks column(s)" in _one_line(capsys, ["mushra-package", *args], "mushra-package",
                                        str(tmp_path / "transfer" / "summary.csv"))


def test_package_whose_stems_are_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _write_inputs(tmp_path)
    for wav in (tmp_path / "transfer" / "p1" / "stems").glob("*"):
        wav.unlink()
    err = _one_line(capsys, ["mushra-package", *args], "mushra-package", str(tmp_path / "transfer" / "p1" / "stems"),
                    sep="/")
    assert "no item could be built" in err


def test_analysis_with_missing_stimuli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "mushra.csv"
    results.write_text("session_test_id,session_uuid,trial_id,rating_stimulus,rating_score,rating_time,"
                       "rating_comment\nm,u,t,reference,100,5,\n")
    stimuli = tmp_path / "nowhere" / "stimuli.parquet"
    err = _one_line(capsys, ["mushra-analysis", "--results", str(results), "--stimuli", str(stimuli),
                             "--out-dir", str(tmp_path / "out")], "mushra-analysis", str(stimuli))
    assert "no such file" in err
    missing = tmp_path / "none.csv"
    _one_line(capsys, ["mushra-analysis", "--results", str(missing), "--out-dir", str(tmp_path / "out")],
              "mushra-analysis", str(missing))


def test_serve_on_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "no-package"
    assert "not a folder" in _one_line(capsys, ["serve-mushra", str(folder), "--port", "0"], "serve-mushra",
                                       str(folder))


def test_serve_on_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        err = _one_line(capsys, ["serve-mushra", str(tmp_path), "--port", str(port), "--max-requests", "1"],
                        "serve-mushra", f"127.0.0.1:{port}")
    assert "cannot listen" in err
