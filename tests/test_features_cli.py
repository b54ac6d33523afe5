"""`mixrep features` on a generated shard (stems index + recipes) and `mixrep merge-features`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mixrep.audio import write_stems
from mixrep.errors import EXIT_BAD_INPUT
from mixrep.features import extract_features, feature_columns
from mixrep.features.cli import main, merge_main
from mixrep.stems import SAMPLE_RATE

SETTINGS = json.dumps({"seed": 0, "shard_size": 4, "features": {"n_mels": 32}})


def _shard(root: Path, name: str, track_ids: list[str], missing: str | None = None) -> tuple[Path, Path]:
    """Write stems for the tracks (except `missing`), a stems index and recipes with two variants each."""
    index_rows, recipe_rows = [], []
    for k, track_id in enumerate(track_ids):
        stem_dir = root / "stems" / name / track_id
        if track_id != missing:
            rng = np.random.default_rng(k)
            stems = (0.05 * rng.standard_normal((4, 2, int(2.5 * SAMPLE_RATE)))).astype(np.float32)
            stems[0] = 0.0  # no vocals: sentinels
            write_stems(stem_dir, stems)
        index_rows.append({"track_id": track_id, "stem_dir": str(stem_dir), "method": "oracle",
                           "num_samples": int(2.5 * SAMPLE_RATE)})
        gain = [{"stem": "bass", "effect": "gain", "params": {"gain_db": 6.0}}]
        for variant_id, effects in ((0, []), (1, gain)):
            recipe_rows.append({"track_id": track_id, "variant_id": variant_id, "effects": json.dumps(effects),
                                "fault_types": "gain" if effects else "none", "severity": float(variant_id),
                                "seed": variant_id, "peak_dbfs": -6.0, "headroom_gain_db": 0.0})
    index_path = root / "stems" / name / "index.parquet"
    recipes_path = root / "variants" / name / "recipes.parquet"
    index_path.parent.mkdir(parents=True, exist_ok=True)
    recipes_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(index_rows).to_parquet(index_path, index=False)
    pd.DataFrame(recipe_rows).to_parquet(recipes_path, index=False)
    return index_path, recipes_path


def _run(index: Path, recipes: Path, out: Path) -> int:
    return main(["--stems", str(index), "--recipes", str(recipes), "--out", str(out), "--settings", SETTINGS])


def test_shard_table_rejected_tracks_and_identical_bytes(tmp_path: Path) -> None:
    index, recipes = _shard(tmp_path, "shard-000", ["syn-pop-0", "syn-pop-1", "syn-rock-0"], missing="syn-pop-1")
    out = tmp_path / "features" / "shard-000.parquet"
    assert _run(index, recipes, out) == 0
    table = pd.read_parquet(out)
    assert list(table.columns) == ["track_id", "variant_id", "segment", *feature_columns()]
    assert table[["track_id", "variant_id"]].values.tolist() == [["syn-pop-0", 0], ["syn-pop-0", 1],
                                                                 ["syn-rock-0", 0], ["syn-rock-0", 1]]
    assert (table["segment"] == 0).all()
    assert all(str(t) == "float32" for t in table.dtypes[3:])
    assert np.isfinite(table[feature_columns()].to_numpy()).all()
    assert (table["dynamics.vocals.active"] == 0).all()
    gain = table["dynamics.bass.loudness_lufs"].diff().iloc[[1, 3]]
    np.testing.assert_allclose(gain, 6.0, atol=0.05)

    rejected = pd.read_csv(tmp_path / "features" / "shard-000.rejected.csv")
    assert rejected["track_id"].tolist() == ["syn-pop-1"]
    assert "syn-pop-1" in rejected["reason"][0]

    # the table row equals the library call on the same stems
    from mixrep.audio import read_stems
    stems = read_stems(tmp_path / "stems" / "shard-000" / "syn-rock-0")
    row = extract_features(stems, SAMPLE_RATE, json.loads(SETTINGS))
    np.testing.assert_array_equal(table.iloc[2][feature_columns()].to_numpy(dtype=np.float32),
                                  np.array(list(row.values()), dtype=np.float32))

    again = tmp_path / "again.parquet"
    assert _run(index, recipes, again) == 0
    assert again.read_bytes() == out.read_bytes()


def test_merge_sorts_shards_and_refuses_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outs = []
    for name, tracks in (("shard-001", ["syn-b-0"]), ("shard-000", ["syn-a-0"])):
        index, recipes = _shard(tmp_path, name, tracks)
        outs.append(tmp_path / "features" / f"{name}.parquet")
        assert _run(index, recipes, outs[-1]) == 0
    merged = tmp_path / "features.parquet"
    assert merge_main(["--inputs", *map(str, outs), "--out", str(merged)]) == 0
    table = pq.read_table(merged).to_pandas()
    assert table["track_id"].tolist() == ["syn-a-0", "syn-a-0", "syn-b-0", "syn-b-0"]
    assert merge_main(["--inputs", str(outs[0]), str(outs[0]), "--out", str(tmp_path / "dup.parquet")]) == EXIT_BAD_INPUT
    assert "duplicate" in capsys.readouterr().err


def test_missing_inputs_and_bad_settings_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["--stems", str(tmp_path / "nope.parquet"), "--recipes", str(tmp_path / "r.parquet"),
                 "--out", str(tmp_path / "o.parquet")])
    assert code == EXIT_BAD_INPUT and "nope.parquet: no such file" in capsys.readouterr().err
    code = main(["--stems", "a", "--recipes", "b", "--out", "c", "--settings", '{"features": {"nfft": 1}}'])
    assert code == EXIT_BAD_INPUT and "unknown features settings" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert merge_main(["--inputs", str(bad), "--out", str(tmp_path / "m.parquet")]) == EXIT_BAD_INPUT
    assert "bad.parquet" in capsys.readouterr().err
