"""mixrep.evaluation.summary and readme_tables on a synthetic units table with planted differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixrep.evaluation.readme_tables import (SUMMARY_BLOCK, VERDICTS_BLOCK, check_readme, render_readme_tables,
                                             update_readme)
from mixrep.evaluation.stats import holm
from mixrep.evaluation.summary import (SummarySettings, build_summary, comparison_targets, plot_summary,
                                       verdict, write_summary)

N_UNITS, PER, SEEDS = 30, 6, (0, 1, 2)
SETTINGS = SummarySettings(n_boot=300, n_perm=999, ci_level=0.95, alpha=0.05, seed=0)


def rows(source: str, metric: str, rate: float, seeds=SEEDS) -> pd.DataFrame:
    """Hit rows (kind mean): each source's hits drawn with its own rate on the same units and items."""
    parts = []
    for seed in seeds:
        rng = np.random.default_rng(abs(hash((source, metric, seed))) % 2 ** 32)
        n = N_UNITS * PER
        parts.append(pd.DataFrame({
            "source": source, "seed": np.int64(seed), "metric": metric,
            "unit": np.repeat([f"t{u}" for u in range(N_UNITS)], PER),
            "item": [f"t{u}:{v}" for u in range(N_UNITS) for v in range(PER)], "group": "",
            "y_true": 1.0, "y_pred": (rng.random(n) < rate).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def quality(source: str, slope: float, seeds=SEEDS) -> pd.DataFrame:
    """quality_noref_r2 rows: y_pred = slope * y_true + noise, the same truths for every source."""
    parts = []
    for seed in seeds:
        truth = np.random.default_rng(seed).normal(size=N_UNITS * PER)
        noise = np.random.default_rng(abs(hash((source, seed))) % 2 ** 32).normal(scale=0.5, size=len(truth))
        parts.append(pd.DataFrame({
            "source": source, "seed": np.int64(seed), "metric": "quality_noref_r2",
            "unit": np.repeat([f"s{u}" for u in range(N_UNITS)], PER),
            "item": [f"s{u}:{v}" for u in range(N_UNITS) for v in range(PER)], "group": "",
            "y_true": truth, "y_pred": slope * truth + noise}))
    return pd.concat(parts, ignore_index=True)


CELLS = ["none", "film-all", "prepend-all"]
CONTROLS = {"features-only": "standardised features", "levels": "8 level numbers",
            "random-init": "untrained encoder", "is-reference": "reference indicator",
            "film-all.audio-only": "film-all with zeroed features"}


@pytest.fixture(scope="module")
def units() -> pd.DataFrame:
    rates = {"none": 0.3, "film-all": 0.7, "prepend-all": 0.1, "features-only": 0.3, "levels": 0.3,
             "random-init": 0.3, "film-all.audio-only": 0.3}
    parts = [rows(s, "retrieval_within", r) for s, r in rates.items()]
    # quality: film-all no better than the controls (same slope): claim 2 must not be supported
    parts += [quality(s, 1.0) for s in ("none", "film-all", "prepend-all", "random-init")]
    parts += [quality("is-reference", 1.0, seeds=(0,))]      # a deterministic control: one seed, broadcast
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def summary(units: pd.DataFrame):
    return build_summary(units, CELLS, CONTROLS, SETTINGS, simulated=True)


def test_comparison_targets() -> None:
    available = {"none", "none-recipe", "film-all", "film-all-recipe", "features-only", "levels",
                 "film-all.audio-only"}
    controls = ["features-only", "levels", "film-all.audio-only"]
    assert comparison_targets("film-all", available, controls) == [
        ("none", "none"), ("features-only", "features-only"), ("levels", "levels"),
        ("audio-only", "film-all.audio-only")]
    assert [t for t, _ in comparison_targets("film-all-recipe", available, controls)] == [
        "none", "none-recipe", "features-only", "levels"]
    assert [t for t, _ in comparison_targets("none", available, controls)] == ["features-only", "levels"]
    assert [t for t, _ in comparison_targets("none-recipe", available, controls)] == [
        "none", "features-only", "levels"]


def test_table_rows_and_columns(summary) -> None:
    table, long, _ = summary
    assert table["source"].tolist() == [*CELLS, *CONTROLS]
    row = table.set_index("source").loc["film-all"]
    assert (row["kind"], row["conditioning"], row["families"], row["positives"]) == \
        ("cell", "film", "all", "same_variant")
    assert row["n_seeds"] == 3 and row["seeds"] == "0,1,2"
    assert table.set_index("source").loc["is-reference", "n_seeds"] == 1
    for column in ("retrieval_within", "retrieval_within_low", "retrieval_within_high", "retrieval_within_seed_sd",
                   "retrieval_within_vs_none_diff", "retrieval_within_vs_none_p_holm",
                   "retrieval_within_vs_audio-only_low", "quality_noref_r2_vs_is-reference_p"):
        assert column in table.columns
    assert np.isnan(table.set_index("source").loc["none", "retrieval_within_vs_none_diff"])


def test_comparisons_long_form_and_holm(summary, units) -> None:
    _, long, _ = summary
    assert list(long.columns) == ["source", "target", "metric", "diff", "low", "high", "p", "p_holm", "n_pairs",
                                  "n_dropped"]
    film = long[(long["source"] == "film-all") & (long["metric"] == "retrieval_within")]
    assert film["target"].tolist() == ["none", "features-only", "levels", "random-init", "audio-only"]
    vs_none = film.iloc[0]
    a = units[(units["source"] == "film-all") & (units["metric"] == "retrieval_within")]["y_pred"].mean()
    b = units[(units["source"] == "none") & (units["metric"] == "retrieval_within")]["y_pred"].mean()
    assert vs_none["diff"] == pytest.approx(a - b)
    assert vs_none["n_pairs"] == len(SEEDS) * N_UNITS * PER and vs_none["n_dropped"] == 0
    for metric, part in long.groupby("metric"):
        np.testing.assert_allclose(part["p_holm"], holm(part["p"].to_numpy()))
    # the one-seed control is compared on every seed of the cell
    ref = long[(long["source"] == "film-all") & (long["target"] == "is-reference")].iloc[0]
    assert ref["n_pairs"] == len(SEEDS) * N_UNITS * PER and ref["n_dropped"] == 0


def test_verdicts_follow_the_numbers(summary) -> None:
    _, long, md = summary
    assert "**Ratings are simulated**" in md and "Ratings are simulated." in md
    verdicts = md[md.index("## Verdicts"):]
    assert "- `film-all`, retrieval_within: supported" in verdicts
    assert "- `prepend-all`, retrieval_within: contradicted" in verdicts
    assert "**(1) Feature conditioning improves the representation**" in verdicts
    assert "mixed (1 of 2 supported, 1 contradicted)" in verdicts
    assert "- `film-all`, quality_noref_r2: not supported" in verdicts
    film = long[(long["source"] == "film-all") & (long["target"] == "none")
                & (long["metric"] == "retrieval_within")].iloc[0]
    assert f"{film['diff']:+.3f}" in verdicts
    # nothing is picked as best on the test set: "best" only ever names the strongest control
    assert "best" not in md.replace("best control", "").replace("picked as best", "")


def test_verdict_rule() -> None:
    assert verdict({"p_holm": 0.01, "low": 0.1, "high": 0.3}, 0.05) == "supported"
    assert verdict({"p_holm": 0.01, "low": -0.3, "high": -0.1}, 0.05) == "contradicted"
    assert verdict({"p_holm": 0.01, "low": -0.1, "high": 0.3}, 0.05) == "not supported"
    assert verdict({"p_holm": 0.2, "low": 0.1, "high": 0.3}, 0.05) == "not supported"
    assert verdict({"p_holm": 0.01, "low": -0.3, "high": -0.1}, 0.05, higher_is_better=False) == "supported"


def test_markdown_tables(summary) -> None:
    _, _, md = summary
    assert "## Retrieval" in md and "## Quality" in md and "## Probe" not in md
    line = next(l for l in md.splitlines() if l.startswith("| `film-all` |"))
    assert "(`" in line      # the best control is named


def test_too_few_permutations_are_flagged(units) -> None:
    _, _, md = build_summary(units, CELLS, CONTROLS, SummarySettings(n_boot=50, n_perm=20), simulated=False)
    assert "**Warning**" in md and "Ratings are simulated" not in md


def test_files_plot_and_readme(summary, tmp_path) -> None:
    table, long, md = summary
    out = tmp_path / "results" / "ablation"
    write_summary(out, table, long, md)
    for name in ("summary.csv", "comparisons.csv", "summary.md", "summary.png"):
        assert (out / name).stat().st_size > 0
    plot_summary(table, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"

    blocks = render_readme_tables(tmp_path / "results")
    assert set(blocks) == {SUMMARY_BLOCK, VERDICTS_BLOCK}
    assert "| `film-all` | cell | 3 |" in blocks[SUMMARY_BLOCK]
    assert blocks[VERDICTS_BLOCK].startswith("A comparison supports a claim")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n<!-- BEGIN generated:{SUMMARY_BLOCK} -->\nold table\n"
                      f"<!-- END generated:{SUMMARY_BLOCK} -->\n\ntext kept\n\n"
                      f"<!-- BEGIN generated:{VERDICTS_BLOCK} -->\n<!-- END generated:{VERDICTS_BLOCK} -->\n")
    assert sorted(check_readme(readme, blocks)) == sorted([SUMMARY_BLOCK, VERDICTS_BLOCK])
    update_readme(readme, blocks)
    text = readme.read_text()
    assert "old table" not in text and "text kept" in text and blocks[SUMMARY_BLOCK] in text
    assert check_readme(readme, blocks) == []
    update_readme(readme, blocks)                     # idempotent
    assert readme.read_text() == text
    with pytest.raises(ValueError, match="generated:missing"):
        update_readme(readme, {"missing": "x"})
