"""The ablation grid summary: one row per cell with R², Kendall τ, retrieval accuracy and kNN genre accuracy.

Reads what the cells wrote (`results/regress/{run}/metrics.json`, `results/tsne/{run}/metrics.json`,
`results/pretrain/{run}/seed{seed}/metrics.json`); a missing or unreadable number becomes an empty cell with the
reason in `notes`, never a crash, so one bad cell does not hide the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.runs import parse_run

# Keys tried, in order, for the retrieval accuracy in a pretrain metrics.json. The pretrain stage writes
# `retrieval.trained.<split>.top1` (held-out variant retrieval, top-1, mixrep.pretrain.retrieval): the test split
# first, then val; the flat names are read from metrics files written by other tools.
RETRIEVAL_KEYS: tuple[str, ...] = ("retrieval.trained.test.top1", "retrieval.trained.val.top1",
                                   "retrieval_accuracy", "val_retrieval_accuracy", "retrieval_top1",
                                   "retrieval.top1", "retrieval.accuracy")
METRIC_COLUMNS: tuple[str, ...] = ("r2", "kendall_tau", "retrieval_accuracy", "knn_genre_accuracy")


def read_json(path: str | Path) -> tuple[dict | None, str | None]:
    """(data, None) or (None, why it could not be read)."""
    try:
        return json.loads(Path(path).read_text()), None
    except FileNotFoundError:
        return None, f"{path} missing"
    except (OSError, json.JSONDecodeError) as error:
        return None, f"{path} unreadable ({error})"


def find_retrieval(metrics: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """The retrieval accuracy and the key it was read from (dotted keys look into nested objects)."""
    for key in RETRIEVAL_KEYS:
        node: Any = metrics.get(key)
        if node is None and "." in key:
            node = metrics
            for part in key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            node = node.get("value")
        if isinstance(node, (int, float)) and np.isfinite(node):
            return float(node), key
    return None, None


def cell_row(run: str, regress_path: str | Path, tsne_path: str | Path,
             pretrain_paths: Sequence[str | Path]) -> dict[str, Any]:
    """One summary row; each metric has `<m>`, `<m>_low`, `<m>_high` (CI) and `<m>_seed_sd`."""
    spec = parse_run(run)
    row: dict[str, Any] = {"run": run, "conditioning": spec.conditioning, "families": spec.family_set}
    notes: list[str] = []
    regress, why = read_json(regress_path)
    if regress is None:
        notes.append(why or "")
    model = (regress or {}).get("models", {}).get("mlp", {})
    for name in ("r2", "kendall_tau"):
        entry = model.get(name) or {}
        row[name], row[f"{name}_low"], row[f"{name}_high"] = entry.get("value"), entry.get("low"), entry.get("high")
        row[f"{name}_seed_sd"] = entry.get("seed_sd")
    row["simulated"] = (regress or {}).get("simulated")
    row["n_seeds"] = (regress or {}).get("n_seeds")
    baseline = (regress or {}).get("models", {}).get("ridge_features", {}).get("r2", {})
    row["r2_ridge_features"] = baseline.get("value")

    values, keys = [], set()
    for path in pretrain_paths:
        data, why = read_json(path)
        value, key = find_retrieval(data) if data is not None else (None, None)
        if value is None:
            notes.append(why or f"{path}: no retrieval key among {list(RETRIEVAL_KEYS)}")
        else:
            values.append(value)
            keys.add(key)
    row["retrieval_accuracy"] = float(np.mean(values)) if values else None
    row["retrieval_accuracy_seed_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    row["retrieval_accuracy_low"], row["retrieval_accuracy_high"] = _spread(values)
    row["retrieval_key"] = ",".join(sorted(keys)) or None

    tsne, why = read_json(tsne_path)
    if tsne is None:
        notes.append(why or "")
    elif tsne.get("measured") is False:  # the source has no genres to measure (mixrep.evaluation.unmeasured)
        notes.append(f"knn_genre_accuracy: {tsne.get('note', 'not measured')}")
    knn = (tsne or {}).get("embedding", {}).get("knn_accuracy", {})
    row["knn_genre_accuracy"] = knn.get("value")
    row["knn_genre_accuracy_low"], row["knn_genre_accuracy_high"] = knn.get("low"), knn.get("high")
    row["knn_genre_accuracy_seed_sd"] = knn.get("seed_sd")
    row["notes"] = "; ".join(n for n in notes if n) or None
    return row


def _spread(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Across-seed range (min, max) where there are repeats: the pretraining metrics carry no bootstrap CI."""
    if len(values) < 2:
        return None, None
    return float(np.min(values)), float(np.max(values))


def summarise(rows: Sequence[dict[str, Any]], best_by: str = "r2") -> pd.DataFrame:
    """The summary table with the best cell (highest `best_by`) marked."""
    table = pd.DataFrame(list(rows))
    scores = pd.to_numeric(table[best_by], errors="coerce")
    table["best"] = False
    if scores.notna().any():
        table.loc[scores.idxmax(), "best"] = True
    return table


def to_markdown(table: pd.DataFrame, n_seeds: int, best_by: str) -> str:
    """A readable table: value [low, high] per metric; the best cell in bold."""
    simulated = bool(table["simulated"].fillna(False).any())
    lines = [f"# Ablation grid ({len(table)} cells, {n_seeds} seed(s) per cell)", "",
             f"Best cell by {best_by}: **{_best(table)}**. Intervals: 95% bootstrap over test songs (R², τ), over "
             "tracks (kNN); retrieval accuracy shows the across-seed range when seeds > 1.",
             *(["", "**Ratings are SIMULATED** (mixrep.ratings.synthetic): R² and τ measure agreement with a "
                "simulated listening panel, not with people."] if simulated else []),
             "", "| cell | R² | Kendall τ | retrieval acc. | kNN genre acc. | R² ridge (features) |",
             "|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        name = f"**{row['run']}**" if row["best"] else row["run"]
        cells = [_with_ci(row, m) for m in METRIC_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_num(row.get('r2_ridge_features'))} |")
    notes = [f"- {r['run']}: {r['notes']}" for r in table.to_dict("records") if r.get("notes")]
    if notes:
        lines += ["", "Missing numbers:", *notes]
    return "\n".join(lines) + "\n"


def _best(table: pd.DataFrame) -> str:
    best = table[table["best"]]
    return str(best["run"].iloc[0]) if len(best) else "none (no cell has the metric)"


def _with_ci(row: Mapping[str, Any], name: str) -> str:
    value, low, high = row.get(name), row.get(f"{name}_low"), row.get(f"{name}_high")
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    text = f"{value:.3f}"
    if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _num(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3f}"


def plot_summary(table: pd.DataFrame, n_seeds: int, path: str | Path) -> None:
    """One panel per metric: a bar per cell with its interval; the best cell highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(METRIC_COLUMNS), 1, figsize=(max(8, 0.55 * len(table) + 2), 11), sharex=True)
    x = np.arange(len(table))
    for ax, name in zip(axes, METRIC_COLUMNS):
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)
        low = pd.to_numeric(table[f"{name}_low"], errors="coerce").to_numpy(np.float64)
        high = pd.to_numeric(table[f"{name}_high"], errors="coerce").to_numpy(np.float64)
        err = np.vstack([np.nan_to_num(values - low), np.nan_to_num(high - values)])
        colours = ["tab:orange" if best else "tab:blue" for best in table["best"]]
        ax.bar(x, np.nan_to_num(values), yerr=np.clip(err, 0, None), color=colours, capsize=2)
        ax.set_ylabel(name.replace("_", " "))
    axes[-1].set_xticks(x, table["run"], rotation=60, ha="right")
    tag = "\nR² and τ against SIMULATED ratings" if bool(table["simulated"].fillna(False).any()) else ""
    fig.suptitle(f"Ablation grid: {len(table)} cells, {n_seeds} seed(s) each; best (orange) = {_best(table)}{tag}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
