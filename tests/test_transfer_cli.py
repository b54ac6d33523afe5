"""`mixrep transfer` end to end on a generated two-genre corpus, with the feature embedding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixrep.audio import read_audio, write_stems
from mixrep.transfer.cli import main
from mixrep.transfer.pairs import resolve_pairs

SR = 44100


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    rows, index = [], []
    t = np.arange(SR) / SR
    for genre, tilt in (("jazz", 0.3), ("pop", 2.0)):
        for k in range(2):
            track_id = f"syn-{genre}-{k}"
            tones = [np.sin(2 * np.pi * f * t) for f in (440.0, 70.0, 2500.0, 900.0)]
            stems = np.stack([(0.1 * tone + 0.02 * tilt * rng.standard_normal(t.size))[None].repeat(2, 0)
                              for tone in tones]).astype(np.float32)
            stem_dir = tmp_path / "stems" / track_id
            write_stems(stem_dir, stems)
            split = "test" if k == 0 else "train"
            rows.append({"track_id": track_id, "genre": genre, "split": split, "status": "ok"})
            index.append({"track_id": track_id, "stem_dir": str(stem_dir)})
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    pd.DataFrame(index).to_parquet(tmp_path / "index.parquet")
    return manifest, tmp_path / "index.parquet"


def test_genre_pairs_resolve_to_first_test_track(tmp_path: Path) -> None:
    manifest, _ = _corpus(tmp_path)
    pairs, skipped = resolve_pairs(pd.read_parquet(manifest), None, [["jazz", "pop"], ["folk", "metal"]])
    assert [(p.source, p.target) for p in pairs] == [("syn-jazz-0", "syn-pop-0")]
    assert skipped[0].request == "folk -> metal" and "folk" in skipped[0].reason


def test_transfer_cli_writes_outputs_and_closes_embedding_distance(tmp_path: Path) -> None:
    manifest, index = _corpus(tmp_path)
    settings = {"seed": 0, "transfer": {
        "genre_pairs": [["jazz", "pop"]], "embedding": "features", "excerpt_s": None,
        "params": ["gain_db", "low_shelf_gain_db", "high_shelf_gain_db", "width"],
        "cmaes": {"popsize": 6, "sigma0": 0.2, "iterations": 6, "patience": 6, "min_delta": 0.0}}}
    out = tmp_path / "transfer"
    rc = main(["--manifest", str(manifest), "--stems-index", str(index), "--out-dir", str(out),
               "--summary", str(out / "summary.csv"), "--settings", json.dumps(settings)])
    assert rc == 0
    pair_dir = out / "syn-jazz-0__to__syn-pop-0"
    mix, rate = read_audio(pair_dir / "mix.wav")
    assert rate == SR and mix.shape == (2, SR)
    params = json.loads((pair_dir / "params.json").read_text())
    assert set(params["physical"]) == {"vocals", "bass", "drums", "other"}
    assert all(0.0 <= v <= 1.0 for stem in params["normalised"].values() for v in stem.values())
    curve = pd.read_csv(pair_dir / "curve.csv")
    assert curve["best"].is_monotonic_decreasing and (pair_dir / "curve.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    rows = summary.set_index("method")
    assert rows.loc["transfer", "embedding"] < rows.loc["none", "embedding"]
    assert rows.loc["transfer", "loudness_lu"] == pytest.approx(0.0, abs=0.1)  # master gain to the target
    assert rows.loc["loudness_match", "loudness_lu"] == pytest.approx(0.0, abs=0.1)
    means = summary[summary["pair"] == "mean"].set_index("method")
    assert 0.0 < means.loc["fraction_closed", "embedding"] <= 1.0
    assert np.isnan(means.loc["fraction_closed_vs_loudness_match", "loudness_lu"])  # baseline distance ~0
    before = rows.loc["none", "embedding"]
    assert means.loc["fraction_closed", "embedding"] == pytest.approx(
        (before - rows.loc["transfer", "embedding"]) / before, rel=1e-4)  # CSV keeps 6 digits
    assert (out / "summary.md").read_text().startswith("# Style transfer")


def test_missing_stems_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, index = _corpus(tmp_path)
    settings = {"transfer": {"pairs": [["syn-jazz-0", "nope"]], "embedding": "features"}}
    rc = main(["--manifest", str(manifest), "--stems-index", str(index), "--out-dir", str(tmp_path / "o"),
               "--summary", str(tmp_path / "o" / "s.csv"), "--settings", json.dumps(settings)])
    assert rc == 1
    assert "nope: not an ok track" in capsys.readouterr().err


def test_silent_target_is_skipped_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, index = _corpus(tmp_path)
    write_stems(tmp_path / "stems" / "syn-pop-0", np.zeros((4, 2, SR), dtype=np.float32))
    settings = {"transfer": {"genre_pairs": [["jazz", "pop"]], "embedding": "features"}}
    rc = main(["--manifest", str(manifest), "--stems-index", str(index), "--out-dir", str(tmp_path / "o"),
               "--summary", str(tmp_path / "o" / "s.csv"), "--settings", json.dumps(settings)])
    assert rc == 1
    assert "target syn-pop-0: excerpt is silent" in capsys.readouterr().err


def test_transfer_outputs_are_deterministic(tmp_path: Path) -> None:
    manifest, index = _corpus(tmp_path)
    settings = json.dumps({"seed": 1, "transfer": {
        "genre_pairs": [["jazz", "pop"]], "embedding": "features", "excerpt_s": 0.5, "params": ["gain_db"],
        "cmaes": {"popsize": 4, "iterations": 2}}})
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert main(["--manifest", str(manifest), "--stems-index", str(index), "--out-dir", str(out),
                     "--summary", str(out / "summary.csv"), "--settings", settings]) == 0
        pair = out / "syn-jazz-0__to__syn-pop-0"
        outputs.append([(out / "summary.csv").read_bytes(), (pair / "params.json").read_bytes(),
                        (pair / "mix.wav").read_bytes(), (pair / "curve.csv").read_bytes()])
    assert outputs[0] == outputs[1]
