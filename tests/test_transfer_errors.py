"""`mixrep transfer` with missing inputs or a bad preset ends in one stderr line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixrep.cli import main
from test_transfer_cli import _corpus


def _line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def _run(manifest: Path, index: Path, tmp_path: Path, settings: dict, *extra: str) -> int:
    return main(["transfer", "--manifest", str(manifest), "--stems-index", str(index), "--out-dir",
                 str(tmp_path / "out"), "--summary", str(tmp_path / "out" / "summary.csv"),
                 "--settings", json.dumps(settings), *extra])


def test_missing_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest, index = _corpus(tmp_path)
    features = {"seed": 0, "transfer": {"genre_pairs": [["jazz", "pop"]], "embedding": "features"}}
    missing = tmp_path / "missing"
    assert _run(missing / "manifest.parquet", index, tmp_path, features) == 2
    assert _line(capsys).startswith(f"mixrep transfer: {missing / 'manifest.parquet'}: no such file")
    assert _run(manifest, missing / "index.parquet", tmp_path, features) == 2
    assert _line(capsys).startswith(f"mixrep transfer: {missing / 'index.parquet'}: no such file")
    encoder = {"seed": 0, "transfer": {"genre_pairs": [["jazz", "pop"]], "embedding": "encoder"}}
    assert _run(manifest, index, tmp_path, encoder, "--encoder", str(missing / "encoder.pt")) == 2
    assert _line(capsys).startswith(f"mixrep transfer: {missing / 'encoder.pt'}: no such file")
    bad = {"seed": 0, "transfer": {"embedding": "features", "preset": "paper"}}
    assert _run(manifest, index, tmp_path, bad) == 2
    assert "transfer.preset 'paper' is not one of" in _line(capsys)
    assert not (tmp_path / "out" / "summary.csv").exists()
