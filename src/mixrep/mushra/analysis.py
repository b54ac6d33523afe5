"""Analysis of webMUSHRA results (`results/<testId>/mushra.csv`): screening, statistics, model agreement.

Post-screening follows ITU-R BS.1534-3 (section on post-screening of assessors) as configured:
an assessor is excluded who rates the hidden reference below 90 on more than 15 % of the items, or the
mid-range (7 kHz) anchor above 90 on more than 15 % of the items. The Recommendation's exception: an item on
which more than 25 % of all assessors rate the mid-range anchor above 90 is probably not degraded enough by
the anchor, so it does not count against anyone under the anchor rule. Sliders left untouched (score exactly
100 with no recorded interaction time) are flagged and, optionally, dropped.

Statistics per condition and per item x condition: n, median, IQR, mean with a bootstrap 95 % CI; pairwise
Wilcoxon signed-rank tests between conditions (paired on assessor x item) with Holm's correction; Kendall tau
and Pearson r between listeners' mean scores and the Stage 2 regressor's predicted quality per stimulus.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

REQUIRED = ("session_test_id", "session_uuid", "trial_id", "rating_stimulus", "rating_score", "rating_time")
REFERENCE = "reference"
MID_ANCHOR = "anchor70"


class RatingsError(ValueError):
    """A results file that cannot be analysed, naming the file and the rows."""


@dataclass(frozen=True)
class ScreeningSettings:
    """BS.1534-3 post-screening thresholds (config `mushra.screening`)."""

    reference_below: float = 90.0
    anchor_above: float = 90.0
    max_fraction: float = 0.15
    anchor_item_exception: float = 0.25
    reference_condition: str = REFERENCE
    anchor_condition: str = MID_ANCHOR


def read_results(path: str | Path) -> pd.DataFrame:
    """Validated ratings: assessor, trial_id, stimulus, score, time, untouched, line (1-based CSV line)."""
    path = Path(path)
    if not path.is_file():
        raise RatingsError(f"{path}: results file not found")
    return _parse_results(path, _decoded(path))


def _decoded(path: Path) -> str:
    """The file as UTF-8 text, or RatingsError naming the line and byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RatingsError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8 "
                           "(webMUSHRA writes UTF-8; re-save the file as UTF-8)") from None


def _records(path: Path, text: str) -> Iterator[list[str]]:
    """CSV records; a CSV syntax error (e.g. an unterminated quote) names the file and line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RatingsError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None


def _parse_results(path: Path, text: str) -> pd.DataFrame:
    reader = _records(path, text)
    try:
        header = next(reader)
    except StopIteration:
        raise RatingsError(f"{path}: empty file (expected webMUSHRA's mushra.csv header)") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RatingsError(f"{path}: header lacks {missing} (webMUSHRA mushra.csv columns: "
                           f"session_test_id, <questionnaire...>, {', '.join(REQUIRED[1:])}, rating_comment)")
    col = {name: header.index(name) for name in REQUIRED}
    rows, problems = [], []
    for line, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        problem = _row_problem(values, header, col)
        if problem:
            problems.append(f"row {line}: {problem}")
            continue
        score = float(values[col["rating_score"]])
        time_text = values[col["rating_time"]].strip()
        time_ms = float(time_text) if time_text else float("nan")
        rows.append({"assessor": values[col["session_uuid"]].strip(), "trial_id": values[col["trial_id"]].strip(),
                     "stimulus": values[col["rating_stimulus"]].strip(), "score": score, "time": time_ms,
                     "untouched": score == 100.0 and not (time_ms > 0), "line": line})
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems)} in all)" if len(problems) > 10 else "")
        raise RatingsError(f"{path}: malformed rows: {shown}")
    table = pd.DataFrame(rows, columns=["assessor", "trial_id", "stimulus", "score", "time", "untouched", "line"])
    if table.empty:
        raise RatingsError(f"{path}: no ratings")
    dup = table[table.duplicated(["assessor", "trial_id", "stimulus"], keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        lines = dup[(dup["assessor"] == first["assessor"]) & (dup["trial_id"] == first["trial_id"])
                    & (dup["stimulus"] == first["stimulus"])]["line"].tolist()
        raise RatingsError(f"{path}: rows {lines}: assessor {first['assessor']!r} rated {first['stimulus']!r} "
                           f"of {first['trial_id']!r} more than once")
    return table


def _row_problem(values: list[str], header: list[str], col: dict[str, int]) -> str | None:
    if len(values) != len(header):
        return f"{len(values)} fields, header has {len(header)}"
    for name in ("session_uuid", "trial_id", "rating_stimulus"):
        if not values[col[name]].strip():
            return f"empty {name}"
    text = values[col["rating_score"]].strip()
    try:
        score = float(text)
    except ValueError:
        return f"rating_score {text!r} is not a number"
    if not (math.isfinite(score) and 0.0 <= score <= 100.0):
        return f"rating_score {score} outside [0, 100]"
    time_text = values[col["rating_time"]].strip()
    if time_text:
        try:
            time_ms = float(time_text)
        except ValueError:
            return f"rating_time {time_text!r} is not a number"
        if time_ms < 0:
            return f"rating_time {time_ms} is negative"
    return None


def attach_conditions(ratings: pd.DataFrame, stimuli: pd.DataFrame | None) -> pd.DataFrame:
    """Add `condition` (and `predicted_quality`) from the package's stimuli table; else condition = stimulus."""
    out = ratings.copy()
    if stimuli is None:
        out["condition"] = out["stimulus"]
        out["predicted_quality"] = np.nan
        return out
    keys = stimuli[["trial_id", "stimulus", "condition", "predicted_quality"]]
    out = out.merge(keys, on=["trial_id", "stimulus"], how="left", validate="many_to_one")
    unknown = out[out["condition"].isna()]
    if not unknown.empty:
        row = unknown.iloc[0]
        raise RatingsError(f"row {row['line']}: stimulus {row['stimulus']!r} of trial {row['trial_id']!r} is not in "
                           f"the package's stimuli table ({len(unknown)} such rows)")
    return out


def screen(ratings: pd.DataFrame, settings: ScreeningSettings = ScreeningSettings()) -> pd.DataFrame:
    """Per assessor: items rated, fractions failing each rule, excluded (bool) and the reason."""
    ref = ratings[ratings["condition"] == settings.reference_condition]
    anchor = ratings[ratings["condition"] == settings.anchor_condition]
    n_assessors = ratings["assessor"].nunique()
    high = anchor.assign(high=anchor["score"] > settings.anchor_above)
    share_high = high.groupby("trial_id")["high"].sum() / max(n_assessors, 1)
    waived = set(share_high[share_high > settings.anchor_item_exception].index)
    records = []
    for assessor, group in ratings.groupby("assessor", sort=True):
        items = group["trial_id"].nunique()
        r = ref[ref["assessor"] == assessor]
        a = high[(high["assessor"] == assessor) & ~high["trial_id"].isin(waived)]
        ref_low = float((r["score"] < settings.reference_below).sum()) / items if items else 0.0
        anchor_high = float(a["high"].sum()) / items if items else 0.0
        reasons = []
        if ref_low > settings.max_fraction:
            reasons.append(f"hidden reference < {settings.reference_below:g} on {ref_low:.0%} of items")
        if anchor_high > settings.max_fraction:
            reasons.append(f"{settings.anchor_condition} > {settings.anchor_above:g} on {anchor_high:.0%} of items")
        records.append({"assessor": assessor, "items": items, "reference_low_fraction": ref_low,
                        "anchor_high_fraction": anchor_high, "untouched": int(group["untouched"].sum()),
                        "excluded": bool(reasons), "reason": "; ".join(reasons)})
    table = pd.DataFrame(records)
    table.attrs["anchor_rule_waived_items"] = sorted(waived)
    return table


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (NaN for fewer than 2 values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def describe(ratings: pd.DataFrame, by: list[str], n_boot: int, seed: int) -> pd.DataFrame:
    """n, median, q25, q75, IQR, mean and bootstrap CI of `score` per group."""
    records = []
    for key, group in ratings.groupby(by, sort=True):
        scores = group["score"].to_numpy()
        q25, median, q75 = np.quantile(scores, [0.25, 0.5, 0.75])
        low, high = bootstrap_ci(scores, n_boot, seed)
        key = key if isinstance(key, tuple) else (key,)
        records.append({**dict(zip(by, key)), "n": int(scores.size), "median": float(median), "q25": float(q25),
                        "q75": float(q75), "iqr": float(q75 - q25), "mean": float(scores.mean()),
                        "ci_low": low, "ci_high": high})
    return pd.DataFrame(records)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(p.shape, np.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = order.size, 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def pairwise_wilcoxon(ratings: pd.DataFrame) -> pd.DataFrame:
    """Wilcoxon signed-rank test for every pair of conditions, paired on (assessor, trial), Holm-corrected."""
    wide = ratings.pivot_table(index=["assessor", "trial_id"], columns="condition", values="score")
    records = []
    for a, b in itertools.combinations(sorted(wide.columns), 2):
        pair = wide[[a, b]].dropna()
        diff = (pair[a] - pair[b]).to_numpy()
        if diff.size == 0:
            stat, p = float("nan"), float("nan")
        elif np.all(diff == 0):
            stat, p = 0.0, 1.0
        else:
            result = stats.wilcoxon(pair[a], pair[b], zero_method="wilcox")
            stat, p = float(result.statistic), float(result.pvalue)
        records.append({"condition_a": a, "condition_b": b, "n_pairs": int(diff.size),
                        "median_difference": float(np.median(diff)) if diff.size else float("nan"),
                        "statistic": stat, "p_value": p})
    table = pd.DataFrame(records, columns=["condition_a", "condition_b", "n_pairs", "median_difference",
                                           "statistic", "p_value"])
    table["p_holm"] = holm(table["p_value"].tolist()) if not table.empty else []
    return table


def model_agreement(ratings: pd.DataFrame) -> dict[str, Any]:
    """Kendall tau and Pearson r between mean listener scores and predicted quality, per stimulus."""
    per = ratings.groupby(["trial_id", "stimulus"]).agg(mean_score=("score", "mean"),
                                                         predicted=("predicted_quality", "first")).dropna()
    if len(per) < 3 or per["predicted"].nunique() < 2 or per["mean_score"].nunique() < 2:
        return {"n_stimuli": int(len(per)), "kendall_tau": None, "kendall_p": None, "pearson_r": None,
                "pearson_p": None, "note": "fewer than 3 stimuli with predictions (or constant values)"}
    tau = stats.kendalltau(per["mean_score"], per["predicted"])
    r = stats.pearsonr(per["mean_score"], per["predicted"])
    return {"n_stimuli": int(len(per)), "kendall_tau": float(tau.statistic), "kendall_p": float(tau.pvalue),
            "pearson_r": float(r.statistic), "pearson_p": float(r.pvalue)}


def boxplot(ratings: pd.DataFrame, path: str | Path) -> None:
    """Scores per condition (kept assessors), conditions ordered by median."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = ratings.groupby("condition")["score"].median().sort_values(ascending=False).index.tolist()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(order) + 1.5), 3.6))
    ax.boxplot([ratings.loc[ratings["condition"] == c, "score"] for c in order], showmeans=True)
    ax.set_xticks(range(1, len(order) + 1), order, rotation=30, ha="right")
    ax.set_ylim(-2, 102)
    ax.set_ylabel("MUSHRA score")
    ax.axhline(90, color="0.8", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def analyse(results_csv: str | Path, out_dir: str | Path, stimuli: pd.DataFrame | None = None,
            screening: ScreeningSettings = ScreeningSettings(), drop_untouched: bool = False,
            n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Everything: screening.csv, conditions.csv, items.csv, wilcoxon.csv, boxplot.png, summary.json."""
    from mixrep.settings import write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        ratings = attach_conditions(read_results(results_csv), stimuli)
    except RatingsError as exc:
        raise exc if str(exc).startswith(str(results_csv)) else RatingsError(f"{results_csv}: {exc}") from None
    screened = screen(ratings, screening)
    screened.to_csv(out_dir / "screening.csv", index=False)
    excluded = screened.loc[screened["excluded"], "assessor"].tolist()
    kept = ratings[~ratings["assessor"].isin(excluded)]
    if drop_untouched:
        kept = kept[~kept["untouched"]]
    if kept.empty:
        raise RatingsError(f"{results_csv}: every assessor was excluded by post-screening; see screening.csv")
    conditions = describe(kept, ["condition"], n_boot, seed)
    items = describe(kept, ["trial_id", "condition"], n_boot, seed)
    wilcoxon = pairwise_wilcoxon(kept)
    conditions.to_csv(out_dir / "conditions.csv", index=False)
    items.to_csv(out_dir / "items.csv", index=False)
    wilcoxon.to_csv(out_dir / "wilcoxon.csv", index=False)
    boxplot(kept, out_dir / "boxplot.png")
    summary = {
        "results_csv": str(results_csv), "ratings": int(len(ratings)), "assessors": int(ratings["assessor"].nunique()),
        "items": int(ratings["trial_id"].nunique()), "excluded_assessors": excluded,
        "exclusion_reasons": dict(zip(screened["assessor"], screened["reason"])),
        "anchor_rule_waived_items": screened.attrs.get("anchor_rule_waived_items", []),
        "untouched_sliders": int(ratings["untouched"].sum()), "untouched_dropped": bool(drop_untouched),
        "kept_ratings": int(len(kept)),
        "screening": vars(screening), "bootstrap": {"n_boot": n_boot, "seed": seed, "level": 0.95},
        "conditions": conditions.to_dict(orient="records"),
        "wilcoxon_holm": wilcoxon.to_dict(orient="records"),
        "model_agreement": model_agreement(kept),
    }
    write_json(out_dir / "summary.json", _clean(summary))
    return summary


def _clean(value: Any) -> Any:
    """NaN -> None so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
