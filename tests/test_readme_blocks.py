"""README's generated result blocks come from the result files: separation, crossed set, stage times, run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mixrep.evaluation.cli import readme_main
from mixrep.evaluation.readme_tables import render_readme_tables


@pytest.fixture()
def results(tmp_path):
    root = tmp_path / "results"
    (root / "ablation").mkdir(parents=True)
    pd.DataFrame([{"source": "none", "kind": "cell", "n_seeds": 3, "retrieval_within": 0.5,
                   "retrieval_within_low": 0.4, "retrieval_within_high": 0.6}]).to_csv(root / "ablation/summary.csv",
                                                                                      index=False)
    (root / "ablation/summary.md").write_text("# x\n\n## Verdicts\n\n**(1)** not supported (0 of 1).\n")
    (root / "separation").mkdir()
    (root / "separation/eval.json").write_text(json.dumps({
        "margin_over_baseline": {"vocals": {"mean": 1.5, "ci95": [0.5, 2.5], "wins": 3, "tracks": 4}},
        "sdr_museval": {"separated": {"mean_over_stems": 4.0, "median": {"vocals": 4.0}},
                        "baseline": {"mean_over_stems": 1.0}}}))
    (root / "crossed").mkdir()
    pd.DataFrame([{"source": "none", "measured": True, "style_knn": 0.25, "style_knn_chance": 0.125,
                   "content_leakage": 0.5, "content_leakage_chance": 0.3, "distance_ratio_style_over_content": 0.8,
                   "rock_metal_distance": 0.1, "rock_metal_rank": 2}]).to_csv(root / "crossed/summary.csv", index=False)
    for rule, seconds in (("pretrain/a", 10.0), ("pretrain/b", 30.0), ("corpus", 5.0)):
        path = root / "benchmarks" / f"{rule}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:10\t100.5\n")
    log = tmp_path / ".snakemake" / "log"
    log.mkdir(parents=True)
    (log / "2026-01-01T000000.000000.snakemake.log").write_text("97 of 97 steps (100%) done\n"
                                                               "Elapsed time: 0:27:03.5\n")
    return root


def test_blocks_carry_the_numbers_of_the_files(results):
    blocks = render_readme_tables(results)
    assert "| vocals | +1.50 | [+0.50, +2.50] | 3 / 4 |" in blocks["separation"]
    assert "**avg 4.00 dB** (mixture/4: 1.00)" in blocks["separation"]
    assert "| `none` | 0.250 (0.125) | 0.500 (0.300) | 0.800 | 0.100 (2) |" in blocks["crossed"]
    assert "| pretrain | 2 | 20.0 | 40 | 100 |" in blocks["stage-times"]
    assert "| all jobs | 3 | | 45 | |" in blocks["stage-times"]
    assert blocks["run"].endswith("97 jobs done, elapsed **27 min 4 s**.")
    assert blocks["ablation-verdicts"] == "**(1)** not supported (0 of 1)."


def test_readme_update_then_check(results, tmp_path):
    readme = tmp_path / "README.md"
    names = ["ablation-summary", "ablation-verdicts", "separation", "crossed", "stage-times", "run"]
    readme.write_text("".join(f"<!-- BEGIN generated:{n} -->\nold\n<!-- END generated:{n} -->\n" for n in names))
    assert readme_main(["--results", str(results), "--readme", str(readme), "--check"]) == 1
    assert readme_main(["--results", str(results), "--readme", str(readme)]) == 0
    assert readme_main(["--results", str(results), "--readme", str(readme), "--check"]) == 0
    assert "old" not in readme.read_text() and "27 min 4 s" in readme.read_text()
