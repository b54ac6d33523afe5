"""Analysis: post-screening rules, untouched sliders, bootstrap CI, Holm, malformed rows, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixrep import cli
from mixrep.mushra.analysis import (RatingsError, ScreeningSettings, attach_conditions, bootstrap_ci, holm,
                                    read_results, screen)
from mixrep.mushra.cli import analysis_main

HEADER = ["session_test_id", "age", "session_uuid", "trial_id", "rating_stimulus", "rating_score", "rating_time",
          "rating_comment"]
CONDITIONS = {"reference": 95, "transfer": 70, "source": 60, "anchor70": 45, "anchor35": 20}


def _rows(assessor: str, items: int = 10, override: dict | None = None, seed: int = 0) -> list[list]:
    """Plausible ratings; override maps (item, stimulus) -> score."""
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(items):
        for stimulus, base in CONDITIONS.items():
            score = float(np.clip(base + rng.integers(-4, 5), 0, 100))
            score = (override or {}).get((item, stimulus), score)
            rows.append(["mixrep", 30, assessor, f"trial{item:02d}", stimulus, score, 5000, ""])
    return rows


def _write(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_screening_excludes_the_right_assessors(tmp_path: Path) -> None:
    good = _rows("good", seed=1)
    # 2 of 10 items with the hidden reference below 90: 20 % > 15 % -> out
    bad_ref = _rows("bad_ref", override={(0, "reference"): 60, (1, "reference"): 80}, seed=2)
    # exactly 1 of 10 (10 %) is tolerated
    ok_ref = _rows("ok_ref", override={(0, "reference"): 60}, seed=3)
    # mid anchor above 90 on 3 of 10 items -> out
    bad_anchor = _rows("bad_anchor", override={(i, "anchor70"): 95 for i in (2, 3, 4)}, seed=4)
    rows = good + bad_ref + ok_ref + bad_anchor + _rows("good2", seed=5) + _rows("good3", seed=6) + \
        _rows("good4", seed=7) + _rows("good5", seed=8)
    ratings = attach_conditions(read_results(_write(tmp_path / "m.csv", rows)), None)
    table = screen(ratings).set_index("assessor")
    assert table.loc["bad_ref", "excluded"] and "hidden reference" in table.loc["bad_ref", "reason"]
    assert table.loc["bad_anchor", "excluded"] and "anchor70" in table.loc["bad_anchor", "reason"]
    assert not table.loc["ok_ref", "excluded"] and not table.loc["good", "excluded"]
    assert table.loc["bad_ref", "reference_low_fraction"] == pytest.approx(0.2)


def test_anchor_rule_is_waived_on_items_where_many_rate_the_anchor_high(tmp_path: Path) -> None:
    # 2 of 4 assessors (50 % > 25 %) rate the anchor of items 0-2 above 90: these items do not count
    high = {(i, "anchor70"): 96 for i in (0, 1, 2)}
    rows = _rows("a", override=high, seed=1) + _rows("b", override=high, seed=2) + _rows("c", seed=3) + \
        _rows("d", seed=4)
    ratings = attach_conditions(read_results(_write(tmp_path / "m.csv", rows)), None)
    table = screen(ratings)
    assert not table["excluded"].any()
    assert table.attrs["anchor_rule_waived_items"] == ["trial00", "trial01", "trial02"]
    strict = screen(ratings, ScreeningSettings(anchor_item_exception=1.0))
    assert strict.set_index("assessor").loc["a", "excluded"]


def test_untouched_sliders_are_flagged(tmp_path: Path) -> None:
    rows = _rows("x", items=2)
    rows[1][5], rows[1][6] = 100, 0  # score 100, no interaction time
    rows[2][5], rows[2][6] = 100, ""
    rows[3][5], rows[3][6] = 100, 1200  # moved to 100 on purpose
    ratings = read_results(_write(tmp_path / "m.csv", rows))
    assert ratings["untouched"].tolist()[:4] == [False, True, True, False]


def test_bootstrap_ci_and_holm() -> None:
    values = np.random.default_rng(0).normal(50, 10, size=400)
    low, high = bootstrap_ci(values, n_boot=2000, seed=0)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.15)
    assert bootstrap_ci(values, 500, seed=1) == bootstrap_ci(values, 500, seed=1)
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])


@pytest.mark.parametrize("bad, message", [
    (["mixrep", 30, "u", "trial00", "source", "abc", 10, ""], "row 3: rating_score 'abc' is not a number"),
    (["mixrep", 30, "u", "trial00", "source", 140, 10, ""], "row 3: rating_score 140.0 outside"),
    (["mixrep", 30, "", "trial00", "source", 40, 10, ""], "row 3: empty session_uuid"),
    (["mixrep", 30, "u", "trial00", "source", 40], "row 3: 6 fields"),
    (["mixrep", 30, "u", "trial00", "source", 40, "soon", ""], "row 3: rating_time 'soon'"),
])
def test_malformed_rows_name_the_row(tmp_path: Path, bad: list, message: str) -> None:
    rows = [["mixrep", 30, "u", "trial00", "reference", 100, 10, ""], bad]
    with pytest.raises(RatingsError, match=message):
        read_results(_write(tmp_path / "m.csv", rows))


def test_missing_columns_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(RatingsError, match="header lacks"):
        read_results(_write(tmp_path / "a.csv", [], header=["session_test_id", "trial_id"]))
    rows = [["mixrep", 30, "u", "t", "source", 40, 10, ""], ["mixrep", 30, "u", "t", "source", 50, 10, ""]]
    with pytest.raises(RatingsError, match=r"rows \[2, 3\]"):
        read_results(_write(tmp_path / "b.csv", rows))


def test_analysis_cli_outputs(tmp_path: Path) -> None:
    rows = sum((_rows(f"s{k}", items=4, seed=k) for k in range(6)), [])
    results = _write(tmp_path / "mushra.csv", rows)
    stimuli = pd.DataFrame([{"trial_id": f"trial{i:02d}", "stimulus": s, "condition": s,
                             "predicted_quality": float(base) / 20 + 0.1 * i}
                            for i in range(4) for s, base in CONDITIONS.items()])
    stimuli.to_parquet(tmp_path / "stimuli.parquet")
    out = tmp_path / "analysis"
    rc = analysis_main(["--results", str(results), "--stimuli", str(tmp_path / "stimuli.parquet"),
                        "--out-dir", str(out), "--settings", json.dumps({"mushra": {"bootstrap": 300}})])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["assessors"] == 6 and summary["excluded_assessors"] == []
    by = {c["condition"]: c for c in summary["conditions"]}
    assert by["reference"]["median"] > by["transfer"]["median"] > by["anchor35"]["median"]
    assert summary["model_agreement"]["kendall_tau"] > 0.7
    wilcoxon = pd.read_csv(out / "wilcoxon.csv")
    assert len(wilcoxon) == 10 and (wilcoxon["p_holm"] >= wilcoxon["p_value"]).all()
    ref_vs_anchor = wilcoxon[(wilcoxon["condition_a"] == "anchor35") & (wilcoxon["condition_b"] == "reference")]
    assert ref_vs_anchor["p_holm"].iloc[0] < 0.01
    assert (out / "boxplot.png").stat().st_size > 0 and (out / "items.csv").exists()


def test_analysis_cli_reports_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _write(tmp_path / "mushra.csv", [["mixrep", 30, "u", "trial00", "source", "x", 1, ""]])
    assert cli.main(["mushra-analysis", "--results", str(results), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"mixrep mushra-analysis: {results}: ") and "row 2" in err


def test_undecodable_and_broken_csv_name_file_and_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.csv", [["mixrep", 30, "u", "trial00", "source", 50, 1, ""]]).read_bytes()
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(good + b"mixrep,30,u,trial00,transfer,50,1,Gr\xf6\xdfe\n")
    with pytest.raises(RatingsError, match=rf"{bad}: line 3: byte 0xf6 at column \d+ is not UTF-8"):
        read_results(bad)
    quote = tmp_path / "quote.csv"
    quote.write_bytes(good + b'mixrep,30,u,trial00,"transfer\n')
    with pytest.raises(RatingsError, match=rf"{quote}: line \d+: not valid CSV"):
        read_results(quote)
