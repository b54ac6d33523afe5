"""The ablation summary: every cell against `none` and the controls, paired, with Holm across the grid.

Reads one units table holding every source (cells and controls; mixrep.evaluation.stats) and writes what
issue 15 asks for: per source and metric its value with a unit bootstrap interval and the spread over seeds;
per cell and metric the paired difference to each comparison target with its interval, permutation p and
Holm-adjusted p (Holm over all cells x targets of that metric); and verdict sentences generated from those
numbers. Nothing is picked as "best" on the test set: the only maximum taken is the best CONTROL, which makes
a cell's comparison harder, never easier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.stats import METRIC_KINDS, holm, paired_test, seed_values, value_interval
from mixrep.runs import NONE, RECIPE_SUFFIX, parse_run

AUDIO_ONLY_SUFFIX = ".audio-only"
AUDIO_ONLY_TARGET = "audio-only"
# Controls a cell is compared with (when the control has the metric), in this order.
CONTROL_TARGETS: tuple[str, ...] = ("features-only", "levels", "random-init", "is-reference", "severity")
FAMILIES: dict[str, tuple[str, ...]] = {
    "retrieval": ("retrieval_within", "retrieval_across"),
    "quality": ("quality_noref_r2", "quality_noref_tau", "quality_fullref_r2", "quality_fullref_tau"),
    "probe": ("probe_fault_auc", "probe_severity_r2"),
    "crossed": ("style_knn", "content_leakage"),
}
# Metrics where lower is better (content leakage: how often the nearest neighbour is the same arrangement).
LOWER_IS_BETTER: frozenset[str] = frozenset({"content_leakage"})
# Within-source comparison for claim 3: style kNN against content leakage on the same crossed rows.
STYLE_METRIC, LEAKAGE_METRIC = "style_knn", "content_leakage"
LEAKAGE_TARGET = "content_leakage"


@dataclass(frozen=True)
class SummarySettings:
    """What the summary needs of config `evaluate` (mixrep.evaluation.evaluate.EvaluateSettings has these)."""

    n_boot: int = 1000
    n_perm: int = 2000
    ci_level: float = 0.95
    alpha: float = 0.05
    seed: int = 0


def _settings(settings: Any) -> SummarySettings:
    """Any object with the fields of SummarySettings (missing ones take the defaults)."""
    if isinstance(settings, SummarySettings):
        return settings
    if isinstance(settings, Mapping):
        get = settings.get
    else:
        def get(key: str, default: Any = None) -> Any:
            return getattr(settings, key, default)
    base = SummarySettings()
    return SummarySettings(**{f: type(getattr(base, f))(get(f, getattr(base, f)))
                              for f in SummarySettings.__dataclass_fields__})


def _broadcast(target: pd.DataFrame, seeds: Sequence[int]) -> pd.DataFrame:
    """A single-seed target (a deterministic control) repeated for each seed of the source it is read against."""
    target_seeds = target["seed"].unique()
    if len(target_seeds) != 1 or len(seeds) <= 1:
        return target
    return pd.concat([target.assign(seed=np.int64(s)) for s in seeds], ignore_index=True)


def comparison_targets(cell: str, available: set[str], controls: Sequence[str]) -> list[tuple[str, str]]:
    """(label, source) pairs a cell is read against, among the sources that have the metric."""
    spec = parse_run(cell)
    targets: list[tuple[str, str]] = []
    if cell != NONE and NONE in available:
        targets.append((NONE, NONE))
    twin = NONE + RECIPE_SUFFIX
    if spec.positives == "same_recipe" and cell != twin and twin in available:
        targets.append((twin, twin))
    others = [c for c in controls if not c.endswith(AUDIO_ONLY_SUFFIX)]
    ordered = [c for c in CONTROL_TARGETS if c in others] + [c for c in others if c not in CONTROL_TARGETS]
    targets += [(c, c) for c in ordered if c in available]
    audio_only = cell + AUDIO_ONLY_SUFFIX
    if audio_only in available and audio_only in controls:
        targets.append((AUDIO_ONLY_TARGET, audio_only))
    return targets


def _describe(source: str, kind: str) -> dict[str, str]:
    """conditioning, families, positives of a cell (or of the cell an audio-only control is made from)."""
    name = source.removesuffix(AUDIO_ONLY_SUFFIX) if kind == "control" else source
    if kind == "control" and not source.endswith(AUDIO_ONLY_SUFFIX):
        return {"conditioning": "", "families": "", "positives": ""}
    spec = parse_run(name)
    return {"conditioning": spec.conditioning, "families": spec.family_set, "positives": spec.positives}


def build_summary(units: pd.DataFrame, cells: Sequence[str], controls: Mapping[str, str], settings: Any,
                  simulated: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(table: one row per source, comparisons: long form, markdown with the verdicts).

    `controls` maps each control source (including `<cell>.audio-only`) to a one-line description.
    `simulated` says the ratings come from the simulated panel; the verdicts say so.
    """
    cfg = _settings(settings)
    rng = np.random.default_rng(cfg.seed)
    units = units.copy()
    units["group"] = units["group"].fillna("").astype(str)
    units["unit"], units["item"] = units["unit"].astype(str), units["item"].astype(str)
    units["seed"] = units["seed"].astype(np.int64)
    present = set(units["source"].unique())
    sources = [s for s in cells if s in present] + [c for c in controls if c in present]
    missing = [s for s in [*cells, *controls] if s not in present]
    metrics = [m for m in METRIC_KINDS if m in set(units["metric"])]
    by = {key: rows for key, rows in units.groupby(["source", "metric"], sort=False)}

    records: list[dict[str, Any]] = []
    for source in sources:
        kind = "cell" if source in cells else "control"
        seeds = sorted(int(s) for s in units.loc[units["source"] == source, "seed"].unique())
        row: dict[str, Any] = {"source": source, "kind": kind, **_describe(source, kind),
                               "n_seeds": len(seeds), "seeds": ",".join(map(str, seeds))}
        for metric in metrics:
            rows = by.get((source, metric))
            if rows is None:
                row.update({metric: np.nan, f"{metric}_low": np.nan, f"{metric}_high": np.nan,
                            f"{metric}_seed_sd": np.nan})
                continue
            value = value_interval(rows, METRIC_KINDS[metric], cfg.n_boot, cfg.ci_level, rng)
            per_seed = np.array([v for v in seed_values(rows, METRIC_KINDS[metric]).values() if np.isfinite(v)])
            row.update({metric: value.value, f"{metric}_low": value.low, f"{metric}_high": value.high,
                        f"{metric}_seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else np.nan})
        records.append(row)
    table = pd.DataFrame.from_records(records)

    comparisons: list[dict[str, Any]] = []
    for metric in metrics:
        kind_of = METRIC_KINDS[metric]
        available = {s for s in sources if (s, metric) in by}
        for cell in [c for c in cells if c in available]:
            rows = by[(cell, metric)]
            seeds = sorted(rows["seed"].unique())
            for label, target in comparison_targets(cell, available, list(controls)):
                other = _broadcast(by[(target, metric)], seeds)
                comparisons.append(_compare(cell, label, metric, rows, other, kind_of, cfg, rng))
        if metric == STYLE_METRIC:
            for source in sources:
                if (source, LEAKAGE_METRIC) in by and (source, STYLE_METRIC) in by:
                    comparisons.append(_compare(source, LEAKAGE_TARGET, metric, by[(source, STYLE_METRIC)],
                                                by[(source, LEAKAGE_METRIC)], kind_of, cfg, rng))
    columns = ["source", "target", "metric", "diff", "low", "high", "p", "p_holm", "n_pairs", "n_dropped"]
    long = pd.DataFrame.from_records(comparisons, columns=columns)
    if len(long):
        long["p_holm"] = long.groupby("metric", sort=False)["p"].transform(lambda p: holm(p.to_numpy()))
    table = _widen(table, long)
    markdown = render_markdown(table, long, cells=[c for c in cells if c in present],
                               controls={c: controls[c] for c in controls if c in present}, cfg=cfg,
                               simulated=simulated, missing=missing)
    return table, long, markdown


def _compare(source: str, label: str, metric: str, a: pd.DataFrame, b: pd.DataFrame, kind: str,
             cfg: SummarySettings, rng: np.random.Generator) -> dict[str, Any]:
    test = paired_test(a, b, kind, cfg.n_boot, cfg.n_perm, cfg.ci_level, rng)
    return {"source": source, "target": label, "metric": metric, "diff": test.diff, "low": test.low,
            "high": test.high, "p": test.p, "p_holm": np.nan, "n_pairs": test.n_pairs,
            "n_dropped": test.n_dropped}


def _widen(table: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """Add `<metric>_vs_<target>_{diff,low,high,p,p_holm}` columns to the per-source table."""
    if len(long) == 0:
        return table
    wide: dict[str, dict[str, float]] = {}
    for rec in long.itertuples(index=False):
        stem = f"{rec.metric}_vs_{rec.target}"
        for field in ("diff", "low", "high", "p", "p_holm"):
            wide.setdefault(f"{stem}_{field}", {})[rec.source] = getattr(rec, field)
    extra = pd.DataFrame({column: table["source"].map(values) for column, values in wide.items()})
    ordered = []
    for metric in [m for m in METRIC_KINDS if m in table.columns]:
        ordered += [c for c in extra.columns if c.startswith(f"{metric}_vs_")]
    return pd.concat([table, extra[ordered]], axis=1)


# ---------------------------------------------------------------------------------------------- markdown


def _num(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _value(row: Mapping[str, Any], metric: str) -> str:
    if not np.isfinite(row.get(metric, np.nan)):
        return "—"
    return f"{_num(row[metric])} [{_num(row[f'{metric}_low'])}, {_num(row[f'{metric}_high'])}]"


def _p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "p —"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _diff_text(rec: Mapping[str, Any]) -> str:
    return f"{rec['diff']:+.3f} [{_num(rec['low'])}, {_num(rec['high'])}], Holm {_p(rec['p_holm'])}"


def verdict(rec: Mapping[str, Any], alpha: float, higher_is_better: bool = True) -> str:
    """`supported` (better: Holm p < alpha and the interval excludes 0 on the better side), `contradicted`
    (the same on the worse side) or `not supported`."""
    p, low, high = rec.get("p_holm", np.nan), rec.get("low", np.nan), rec.get("high", np.nan)
    if not (np.isfinite(p) and np.isfinite(low) and np.isfinite(high)) or p >= alpha:
        return "not supported"
    better = low > 0 if higher_is_better else high < 0
    worse = high < 0 if higher_is_better else low > 0
    return "supported" if better else "contradicted" if worse else "not supported"


def _lookup(long: pd.DataFrame) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["source"], r["target"], r["metric"]): r for r in long.to_dict("records")}


def _best_control(table: pd.DataFrame, long: pd.DataFrame, cell: str, metric: str) -> str | None:
    """The control target of `cell` with the best value on `metric` (the hardest one to beat)."""
    targets = long[(long["source"] == cell) & (long["metric"] == metric)]["target"]
    controls = [t for t in targets if t not in (NONE, NONE + RECIPE_SUFFIX, LEAKAGE_TARGET)]
    values = {}
    for t in controls:
        source = cell + AUDIO_ONLY_SUFFIX if t == AUDIO_ONLY_TARGET else t
        hit = table.loc[table["source"] == source, metric]
        if len(hit) and np.isfinite(hit.iloc[0]):
            values[t] = float(hit.iloc[0])
    if not values:
        return None
    pick = min if metric in LOWER_IS_BETTER else max
    return pick(values, key=values.get)


def _family_table(table: pd.DataFrame, long: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    lookup = _lookup(long)
    header = ["source", "kind"]
    for m in metrics:
        header += [m, "Δ vs none", "Δ vs best control"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        cells = [f"`{row['source']}`", row["kind"]]
        for m in metrics:
            cells.append(_value(row, m))
            rec = lookup.get((row["source"], NONE, m))
            cells.append(_diff_text(rec) if rec else "")
            best = _best_control(table, long, row["source"], m) if row["kind"] == "cell" else None
            rec = lookup.get((row["source"], best, m)) if best else None
            cells.append(f"{_diff_text(rec)} (`{best}`)" if rec else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _overall(verdicts: Sequence[str]) -> str:
    n, k, c = len(verdicts), verdicts.count("supported"), verdicts.count("contradicted")
    if n == 0:
        return "cannot be decided (nothing measured)"
    if k == n:
        return "supported"
    if k and c:
        return f"mixed ({k} of {n} supported, {c} contradicted)"
    if k:
        return f"partly supported ({k} of {n} supported)"
    if c:
        return f"contradicted ({c} of {n} significantly worse)"
    return f"not supported (0 of {n})"


def _claim_lines(cells: Sequence[str], metrics: Sequence[str], targets_of: Any, long: pd.DataFrame,
                 alpha: float) -> tuple[list[str], list[str]]:
    """Per (cell, metric): supported iff supported against every target; contradicted iff worse than any."""
    lookup = _lookup(long)
    verdicts, lines = [], []
    for cell in cells:
        for metric in metrics:
            recs = [(t, lookup.get((cell, t, metric))) for t in targets_of(cell)]
            recs = [(t, r) for t, r in recs if r is not None]
            if not recs:
                continue
            each = [verdict(r, alpha, metric not in LOWER_IS_BETTER) for _, r in recs]
            v = "supported" if all(e == "supported" for e in each) else \
                "contradicted" if "contradicted" in each else "not supported"
            verdicts.append(v)
            detail = "; ".join(f"vs `{t}` {_diff_text(r)}" for t, r in recs)
            lines.append(f"- `{cell}`, {metric}: {v} ({detail})")
    return verdicts, lines


def render_markdown(table: pd.DataFrame, long: pd.DataFrame, cells: Sequence[str], controls: Mapping[str, str],
                    cfg: SummarySettings, simulated: bool, missing: Sequence[str] = ()) -> str:
    """summary.md: tables per metric family, then the verdicts, every sentence generated from the numbers."""
    level = int(round(100 * cfg.ci_level))
    out = ["# Ablation summary", "",
           f"Values: metric over all seeds [{level} % unit bootstrap interval, {cfg.n_boot} resamples]. "
           f"Δ: paired difference (same seeds × units × items) [{level} % paired bootstrap interval], "
           f"two-sided sign-flip permutation p ({cfg.n_perm} permutations), Holm-adjusted across all "
           "comparisons of the grid for that metric. No cell is picked as best on the test set; "
           "'best control' is the strongest control for that metric (the hardest comparison).", ""]
    if simulated:
        out += ["**Ratings are simulated** (the listening panel is a model of a panel): the quality numbers "
                "say what a model can learn of the simulated score, not of real listeners.", ""]
    if missing:
        out += [f"Not in the units table (not evaluated): {', '.join(f'`{m}`' for m in missing)}.", ""]
    if len(long):
        m = int(long.groupby("metric").size().max())
        floor = m / (1 + cfg.n_perm)
        if floor >= cfg.alpha:
            out += [f"**Warning**: with {cfg.n_perm} permutations the smallest Holm-adjusted p of a metric with "
                    f"{m} comparisons is {floor:.3f} ≥ {cfg.alpha:g}: no comparison can reach significance; "
                    f"raise `n_perm` above {int(np.ceil(m / cfg.alpha))}.", ""]
    if controls:
        out += ["Controls: " + "; ".join(f"`{c}`: {d}" for c, d in controls.items()) + ".", ""]
    for family, metrics in FAMILIES.items():
        present = [m for m in metrics if m in table.columns]
        if not present:
            continue
        out += [f"## {family.capitalize()}", "", *_family_table(table, long, present), ""]
    out += ["## Verdicts", "", *verdict_lines(table, long, cells, cfg.alpha, simulated)]
    return "\n".join(out).rstrip() + "\n"


def verdict_lines(table: pd.DataFrame, long: pd.DataFrame, cells: Sequence[str], alpha: float,
                  simulated: bool) -> list[str]:
    """The three claims of the seed, each with a verdict generated from the comparisons."""
    rule = (f"A comparison supports a claim when its Holm-adjusted p < {alpha:g} and its interval excludes 0 on "
            "the claimed side; it contradicts it when the same holds on the other side.")
    lines = [rule, ""]
    conditioned = [c for c in cells if parse_run(c).conditioned]

    def twin_and_features(cell: str) -> list[str]:
        return [parse_run(cell).none_twin, "features-only"]
    m1 = [m for m in ("retrieval_across", "retrieval_within", "probe_fault_auc", "probe_severity_r2")
          if m in table.columns]
    v1, l1 = _claim_lines(conditioned, m1, twin_and_features, long, alpha)
    lines += [f"**(1) Feature conditioning improves the representation** (each conditioned cell vs its `none` "
              f"cell and vs `features-only`, on {', '.join(m1) or 'no metric'}): {_overall(v1)}.", "", *l1, ""]

    m2 = [m for m in ("quality_noref_r2", "quality_noref_tau", "quality_fullref_r2", "quality_fullref_tau")
          if m in table.columns]
    v2, l2 = _claim_lines(cells, m2, lambda cell: ["is-reference", "random-init"], long, alpha)
    sim = " Ratings are simulated." if simulated else ""
    lines += [f"**(2) The frozen embedding predicts perceived quality** (each cell vs `is-reference` and "
              f"`random-init`, on {', '.join(m2) or 'no metric'}): {_overall(v2)}.{sim}", ""]
    ceiling = table[table["source"] == "severity"]
    if len(ceiling):
        row = ceiling.iloc[0].to_dict()
        parts = [f"{m} {_value(row, m)}" for m in m2 if np.isfinite(row.get(m, np.nan))]
        if parts:
            lines += [f"Noise ceiling (`severity`, the recipe's own severity): {'; '.join(parts)}.", ""]
    lines += [*l2, ""]

    m3 = [STYLE_METRIC] if STYLE_METRIC in table.columns else []
    style_controls = [c for c in ("features-only", "levels", "random-init")]
    v3, l3 = _claim_lines(cells, m3, lambda cell: [LEAKAGE_TARGET, *style_controls], long, alpha)
    lines += ["**(3) The space is organised by mixing style** (style kNN across content vs the same source's "
              f"content leakage, and vs {', '.join(f'`{c}`' for c in style_controls)}): {_overall(v3)}.", "",
              *l3, ""]
    return lines


# ------------------------------------------------------------------------------------------------- files


def plot_summary(table: pd.DataFrame, path: str | Path) -> None:
    """One panel per metric: each source's value and interval, cells and controls in different colours."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in METRIC_KINDS if m in table.columns]
    n = max(len(metrics), 1)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    height = max(2.5, 0.25 * len(table) + 1.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, height * nrows), squeeze=False, sharey=True)
    y = np.arange(len(table))[::-1]
    colours = np.where(table["kind"].to_numpy() == "cell", "tab:blue", "tab:orange")
    for ax, metric in zip(axes.flat, metrics):
        value = table[metric].to_numpy(float)
        low, high = table[f"{metric}_low"].to_numpy(float), table[f"{metric}_high"].to_numpy(float)
        for yi, v, lo, hi, c in zip(y, value, low, high, colours):
            if np.isfinite(v):
                err = [[v - lo], [hi - v]] if np.isfinite(lo) and np.isfinite(hi) else None
                ax.errorbar(v, yi, xerr=err, fmt="o", color=c, capsize=2, markersize=4)
        ax.set_title(metric, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    for r in range(nrows):
        axes[r, 0].set_yticks(y)
        axes[r, 0].set_yticklabels(table["source"], fontsize=7)
    handles = [plt.Line2D([], [], marker="o", ls="", color="tab:blue", label="cell"),
               plt.Line2D([], [], marker="o", ls="", color="tab:orange", label="control")]
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(out_dir: str | Path, table: pd.DataFrame, comparisons: pd.DataFrame, markdown: str) -> None:
    """summary.csv, comparisons.csv, summary.md and summary.png in `out_dir` (results/ablation)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "summary.csv", index=False)
    comparisons.to_csv(out / "comparisons.csv", index=False)
    (out / "summary.md").write_text(markdown)
    plot_summary(table, out / "summary.png")
