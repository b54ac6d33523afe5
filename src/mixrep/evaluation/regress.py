"""Stage 2: mix-quality regression on a frozen encoder's embeddings, with baselines.

For one ablation cell, an MLP r_psi is trained per encoder seed on the embeddings of the rated mixes of the
train songs, early-stopped on the validation songs, and scored on the test songs. The same protocol is run on
(b) a random-init encoder and (c) the cell with no feature conditioning (`<conditioning>-none`); (a) a ridge
regression on the structured features alone needs no encoder. All models see the same songs in the same splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.data import KEY, embedding_matrix, feature_columns
from mixrep.evaluation.metrics import regression_report
from mixrep.evaluation.mlp import QualityRegressor, TrainSettings, fit_mlp

RATING_COLUMNS = ("mix_id", "song_id", "track_id", "variant_id", "score", "split", "simulated")


@dataclass(frozen=True)
class RegressSettings:
    """Config `regress` (see workflow/schemas/sections/regress.schema.yaml)."""

    train: TrainSettings
    ridge_alphas: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
    n_boot: int = 1000
    ci_level: float = 0.95

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> RegressSettings:
        return cls(train=TrainSettings.from_config(section),
                   ridge_alphas=tuple(float(a) for a in section.get("ridge_alphas", cls.ridge_alphas)),
                   n_boot=int(section.get("n_boot", cls.n_boot)),
                   ci_level=float(section.get("ci_level", cls.ci_level)))


@dataclass
class ModelResult:
    """Test-song predictions of one model (one vector per seed) and its metrics."""

    name: str
    description: str
    seeds: list[int]
    predictions: list[np.ndarray]  # aligned with the rated table's rows
    metrics: dict[str, dict]


def rated_with_embeddings(ratings: pd.DataFrame, embeddings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings rows that have an embedding, and those that do not (with the reason, for metrics.json)."""
    ratings = ratings.assign(track_id=ratings["track_id"].astype(str),
                             variant_id=ratings["variant_id"].astype(np.int64))
    merged = ratings.merge(embeddings[KEY], on=KEY, how="left", indicator=True)
    unmatched = merged.loc[merged["_merge"] == "left_only", ["mix_id", *KEY]].assign(
        reason="no embedding for this (track_id, variant_id)")
    matched = merged[merged["_merge"] == "both"].drop(columns="_merge")
    return matched.reset_index(drop=True), unmatched.reset_index(drop=True)


def split_masks(table: pd.DataFrame) -> dict[str, np.ndarray]:
    masks = {split: (table["split"] == split).to_numpy() for split in ("train", "val", "test")}
    empty = [s for s, m in masks.items() if not m.any()]
    if empty:
        raise ValueError(f"no rated mix with an embedding in split(s) {empty}: cannot train / stop / test")
    return masks


def align(table: pd.DataFrame, embeddings: pd.DataFrame, what: str) -> np.ndarray:
    """Embedding matrix of `table`'s rows (same order); every row must be present."""
    indexed = embeddings.set_index(KEY)
    keys = pd.MultiIndex.from_frame(table[KEY])
    missing = ~keys.isin(indexed.index)
    if missing.any():
        first = table.loc[missing, KEY].iloc[0].tolist()
        raise ValueError(f"{what}: {int(missing.sum())} rated mix(es) have no embedding, e.g. {first}")
    return embedding_matrix(indexed.loc[keys].reset_index())


def fit_mlps(table: pd.DataFrame, matrices: Mapping[int, np.ndarray], settings: RegressSettings
             ) -> tuple[dict[int, Any], list[np.ndarray]]:
    """One MLP per seed; predictions of every row of `table`."""
    masks = split_masks(table)
    y = table["score"].to_numpy(np.float64)
    members, predictions = {}, []
    for seed, x in matrices.items():
        member = fit_mlp(x[masks["train"]], y[masks["train"]], x[masks["val"]], y[masks["val"]],
                         settings.train, seed=seed)
        members[seed] = member
        predictions.append(member.predict(x))
    return members, predictions


def fit_ridge(table: pd.DataFrame, features: pd.DataFrame, alphas: Sequence[float]) -> tuple[np.ndarray, dict]:
    """Ridge on standardised structured features; alpha chosen by validation MSE. Returns all-row predictions."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    columns = feature_columns(features)
    joined = table[KEY].merge(features, on=KEY, how="left", indicator=True)
    if (joined["_merge"] != "both").any():
        missing = joined.loc[joined["_merge"] != "both", KEY].iloc[0].tolist()
        raise ValueError(f"features table lacks {int((joined['_merge'] != 'both').sum())} rated mix(es), "
                         f"e.g. {missing}")
    x = np.array(joined[columns].to_numpy(np.float64), copy=True)
    x[~np.isfinite(x)] = np.nan
    masks = split_masks(table)
    y = table["score"].to_numpy(np.float64)
    usable = ~np.all(np.isnan(x[masks["train"]]), axis=0)  # a column never measured on train cannot be imputed
    x = x[:, usable]
    best: tuple[float, float, Any] | None = None
    for alpha in alphas:
        model = make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=alpha))
        model.fit(x[masks["train"]], y[masks["train"]])
        mse = float(np.mean((model.predict(x[masks["val"]]) - y[masks["val"]]) ** 2))
        if best is None or mse < best[0]:
            best = (mse, alpha, model)
    assert best is not None
    return best[2].predict(x), {"alpha": best[1], "val_mse": best[0], "n_features": int(usable.sum())}


def run_regression(ratings: pd.DataFrame, embeddings: Mapping[int, pd.DataFrame],
                   random_embeddings: Mapping[int, pd.DataFrame], none_embeddings: Mapping[int, pd.DataFrame] | None,
                   features: pd.DataFrame, *, run: str, none_run: str, settings: RegressSettings,
                   seed: int) -> tuple[dict, pd.DataFrame, QualityRegressor]:
    """Fit the cell's regressor and the baselines; returns (metrics, predictions table, regressor).

    `none_embeddings` is None when the cell is itself the `none` cell (baseline (c) is then the model).
    """
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings table lacks column(s) {missing}")
    seeds = sorted(embeddings)
    first = embeddings[seeds[0]]
    table, unmatched = rated_with_embeddings(ratings, first)
    if table.empty:
        raise ValueError("no rated mix has an embedding: do the ratings and embeddings come from one dataset?")
    test = (table["split"] == "test").to_numpy()
    songs = table["song_id"].astype(str).to_numpy()
    y = table["score"].to_numpy(np.float64)

    def evaluate(name: str, description: str, model_seeds: list[int], preds: list[np.ndarray]) -> ModelResult:
        metrics = regression_report(y[test], [p[test] for p in preds], songs[test], n_boot=settings.n_boot,
                                    level=settings.ci_level, seed=seed)
        return ModelResult(name, description, model_seeds, preds, metrics)

    members, preds = fit_mlps(table, {s: align(table, embeddings[s], f"{run} seed {s}") for s in seeds}, settings)
    results = [evaluate("mlp", f"2-layer MLP on the frozen {run} encoder", seeds, preds)]
    ridge_pred, ridge_info = fit_ridge(table, features, settings.ridge_alphas)
    results.append(evaluate("ridge_features", "ridge regression on the structured features alone", [], [ridge_pred]))
    _, random_preds = fit_mlps(table, {s: align(table, random_embeddings[s], f"random-init seed {s}")
                                       for s in sorted(random_embeddings)}, settings)
    results.append(evaluate("mlp_random_init", "the same MLP on a random-init frozen encoder",
                            sorted(random_embeddings), random_preds))
    if none_embeddings is None:
        results.append(evaluate("mlp_none_cell", f"the same MLP on {none_run} (this cell itself)", seeds, preds))
    else:
        _, none_preds = fit_mlps(table, {s: align(table, none_embeddings[s], f"{none_run} seed {s}")
                                         for s in sorted(none_embeddings)}, settings)
        results.append(evaluate("mlp_none_cell", f"the same MLP on the {none_run} encoder (no feature conditioning)",
                                sorted(none_embeddings), none_preds))

    simulated = bool(table["simulated"].all())
    regressor = QualityRegressor(members=members, default_seed=seeds[0], info={
        "run": run, "encoder": f"results/pretrain/{run}/seed{seeds[0]}/encoder.pt", "seeds": seeds,
        "simulated": simulated, "target": "mean listener score (ratings.parquet `score`)",
        "embedding_dim": int(next(iter(members.values())).in_dim)})
    counts = {s: {"songs": int(table.loc[table["split"] == s, "song_id"].nunique()),
                  "mixes": int((table["split"] == s).sum())} for s in ("train", "val", "test")}
    metrics = {
        "run": run, "simulated": simulated, "n_seeds": len(seeds), "seeds": seeds,
        "ratings_note": "SIMULATED listening test (mixrep.ratings.synthetic)" if simulated else "real ratings",
        "splits": counts, "n_unmatched": int(len(unmatched)),
        "unmatched": unmatched.head(50).to_dict("records"),
        "ci": {"method": "percentile bootstrap over test songs", "level": settings.ci_level,
               "n_boot": settings.n_boot, "seed_spread": "seed_sd = std of the metric across encoder seeds"},
        "models": {r.name: {"description": r.description, "n_seeds": len(r.seeds), "seeds": r.seeds, **r.metrics}
                   for r in results},
        "ridge": ridge_info,
        "mlp_epochs": {str(s): m.epochs for s, m in members.items()},
    }
    return metrics, predictions_table(table, results), regressor


def predictions_table(table: pd.DataFrame, results: Sequence[ModelResult]) -> pd.DataFrame:
    """Long table: one row per model × seed × rated mix (all splits; `split` says which are held out)."""
    frames = []
    base = table[["mix_id", "song_id", "track_id", "variant_id", "split", "score"]]
    for result in results:
        seeds = result.seeds or [-1]
        for model_seed, pred in zip(seeds, result.predictions):
            frames.append(base.assign(model=result.name, seed=np.int64(model_seed), predicted=pred))
    return pd.concat(frames, ignore_index=True)


def plot_scatter(predictions: pd.DataFrame, metrics: dict, path: str) -> None:
    """Predicted vs true score on the test songs (mean over seeds), for the cell's MLP and the ridge baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = predictions[predictions["split"] == "test"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    for ax, model in zip(axes, ("mlp", "ridge_features")):
        rows = test[test["model"] == model].groupby("mix_id").agg(score=("score", "first"),
                                                                  predicted=("predicted", "mean"))
        entry = metrics["models"][model]
        ax.scatter(rows["score"], rows["predicted"], s=10, alpha=0.6)
        low = float(min(rows["score"].min(), rows["predicted"].min()))
        high = float(max(rows["score"].max(), rows["predicted"].max()))
        ax.plot([low, high], [low, high], color="grey", lw=1, ls="--")
        ax.set_title(f"{model}: R²={_fmt(entry['r2']['value'])}, τ={_fmt(entry['kendall_tau']['value'])}")
        ax.set_xlabel("true score")
    axes[0].set_ylabel("predicted score")
    tag = "SIMULATED ratings" if metrics["simulated"] else "real ratings"
    fig.suptitle(f"{metrics['run']}: test songs ({tag}, {metrics['n_seeds']} seed(s))")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
