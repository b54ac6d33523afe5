"""Stage 2 quality metrics as units rows: K-fold over all rated songs, no-reference and full-reference.

Why K-fold: one 10-song test split is too few songs to compare cells (and missed whole genres); every rated
song is predicted once, out of fold, by a regressor that never saw it. The folds are the ratings table's
`fold` column (song-level, genre-stratified: mixrep.ratings.table.assign_folds). For fold k: test = fold k,
early-stopping validation = fold (k+1) % K, train = the rest.

Why two regressors: the panel judges a mix against its reference, so a model that hears one mix (no-
reference, on e_mix) may lack what the score depends on; the full-reference model gets what the panel gets,
[e_mix, e_ref, e_mix - e_ref] with e_ref the embedding of variant 0 of the same track. Both are the 2-layer
MLP of mixrep.evaluation.mlp (inputs standardised with the training folds' statistics inside `fit_mlp`).

Controls (`quality_control_units`), on the same folds and rows, so they pair with every cell:
- `is-reference`: the one-bit input "variant_id == 0", a least-squares line fitted on the training folds;
- `severity`: the noise ceiling, the panel's noiseless `expected_score` where the table carries it, else an
  out-of-fold monotone (isotonic, decreasing) fit of the recipe severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.data import KEY, embedding_matrix
from mixrep.evaluation.mlp import TrainSettings, fit_mlp

QUALITY_METRICS: dict[str, tuple[str, str]] = {  # input -> (r2 metric, tau metric)
    "noref": ("quality_noref_r2", "quality_noref_tau"),
    "fullref": ("quality_fullref_r2", "quality_fullref_tau"),
}


@dataclass(frozen=True)
class FoldPlan:
    """Which fold tests, which stops early, which train, for one of the K rounds."""

    test: int
    val: int
    train: tuple[int, ...]


def fold_plans(folds: np.ndarray) -> list[FoldPlan]:
    """For each fold present: test = it, val = the next present fold (cyclically), train = the others.

    A fold can be absent among the rated mixes that have an embedding (a small source whose few songs do not
    fill every fold): the folds present are used as they are, as long as there are at least 3.
    """
    values = sorted(set(int(f) for f in folds))
    k = len(values)
    if k < 3:
        raise ValueError(f"K-fold quality needs songs in at least 3 ratings folds, got folds {values}")
    plans = []
    for i, test in enumerate(values):
        val = values[(i + 1) % k]
        plans.append(FoldPlan(test, val, tuple(f for f in values if f not in (test, val))))
    return plans


def _train_settings(settings: Any) -> TrainSettings:
    if isinstance(settings, TrainSettings):
        return settings
    if settings is None:
        return TrainSettings()
    if isinstance(settings, Mapping):
        return TrainSettings.from_config(settings)
    return TrainSettings.from_config(vars(settings))


def _rated(ratings: pd.DataFrame) -> pd.DataFrame:
    needed = {"mix_id", "song_id", "track_id", "variant_id", "score", "fold"}
    missing = needed - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings lack column(s) {sorted(missing)} (mixrep ratings writes `fold`)")
    rated = ratings.assign(track_id=ratings["track_id"].astype(str), variant_id=ratings["variant_id"].astype(np.int64),
                           fold=ratings["fold"].astype(np.int64))
    return rated.sort_values(["fold", "song_id", "variant_id", "mix_id"], kind="stable").reset_index(drop=True)


def _units(rated: pd.DataFrame, predictions: np.ndarray, source: str, seed: int, which: str) -> pd.DataFrame:
    frames = []
    for metric in QUALITY_METRICS[which]:
        frames.append(pd.DataFrame({
            "source": source, "seed": np.int64(seed), "metric": metric,
            "unit": rated["song_id"].astype(str).to_numpy(), "item": rated["mix_id"].astype(str).to_numpy(),
            "group": "", "y_true": rated["score"].to_numpy(np.float64), "y_pred": np.asarray(predictions, np.float64)}))
    return pd.concat(frames, ignore_index=True)


def quality_units(ratings: pd.DataFrame, embeddings: pd.DataFrame, settings: Any, source: str,
                  seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Out-of-fold predictions of every rated mix, no-reference and full-reference, as units rows.

    `settings`: the config's `regress` section (or a TrainSettings); `seed` seeds every MLP (fold k uses
    seed * 1000 + k, so folds differ and a rerun is identical). Mixes whose embedding (or whose track's
    variant-0 embedding) is missing are left out and counted in the info.
    """
    train_settings = _train_settings(settings)
    rated = _rated(ratings)
    table = embeddings.assign(track_id=embeddings["track_id"].astype(str),
                              variant_id=embeddings["variant_id"].astype(np.int64))
    vectors = dict(zip(zip(table["track_id"], table["variant_id"]), embedding_matrix(table)))
    keep = np.array([(t, v) in vectors and (t, 0) in vectors for t, v in zip(rated["track_id"], rated["variant_id"])])
    dropped = int((~keep).sum())
    rated = rated[keep].reset_index(drop=True)
    if rated.empty:
        raise ValueError(f"{source}: no rated mix has an embedding (and its reference's) in this table")
    e_mix = np.stack([vectors[(t, v)] for t, v in zip(rated["track_id"], rated["variant_id"])])
    e_ref = np.stack([vectors[(t, 0)] for t in rated["track_id"]])
    inputs = {"noref": e_mix, "fullref": np.concatenate([e_mix, e_ref, e_mix - e_ref], axis=1)}
    y = rated["score"].to_numpy(np.float64)
    fold = rated["fold"].to_numpy()
    plans = fold_plans(fold)
    frames, info = [], {"folds": len(plans), "mixes": int(len(rated)), "songs": int(rated["song_id"].nunique()),
                        "dropped_without_embedding": dropped, "epochs": {}}
    for which, x in inputs.items():
        predictions = np.full(len(rated), np.nan)
        epochs = []
        for plan in plans:
            train, val, test = np.isin(fold, plan.train), fold == plan.val, fold == plan.test
            member = fit_mlp(x[train], y[train], x[val], y[val], train_settings, seed=int(seed) * 1000 + plan.test)
            predictions[test] = member.predict(x[test])
            epochs.append(member.epochs)
        info["epochs"][which] = epochs
        frames.append(_units(rated, predictions, source, seed, which))
    return pd.concat(frames, ignore_index=True), info


def _linear_oof(x: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Out-of-fold least-squares line y ~ a + b x, fitted on each round's training folds."""
    out = np.full(len(y), np.nan)
    for plan in fold_plans(fold):
        train, test = np.isin(fold, plan.train), fold == plan.test
        design = np.column_stack([np.ones(train.sum()), x[train]])
        coef, *_ = np.linalg.lstsq(design, y[train], rcond=None)
        out[test] = coef[0] + coef[1] * x[test]
    return out


def _isotonic_oof(x: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Out-of-fold decreasing isotonic fit y ~ f(x) (score falls with severity), on the training folds."""
    from sklearn.isotonic import IsotonicRegression

    out = np.full(len(y), np.nan)
    for plan in fold_plans(fold):
        train, test = np.isin(fold, plan.train), fold == plan.test
        model = IsotonicRegression(increasing=False, out_of_bounds="clip").fit(x[train], y[train])
        out[test] = model.predict(x[test])
    return out


def quality_control_units(ratings: pd.DataFrame, recipes: pd.DataFrame | None, settings: Any,
                          seed: int) -> pd.DataFrame:
    """Units rows of the `is-reference` and `severity` controls, under both the noref and fullref names.

    They need no embedding, so every rated mix is a row (the cells' rows are the same unless embeddings are
    missing; the summary pairs on the rows both have). `settings` is accepted for symmetry and unused.
    """
    del settings
    rated = _rated(ratings)
    y = rated["score"].to_numpy(np.float64)
    fold = rated["fold"].to_numpy()
    is_reference = _linear_oof((rated["variant_id"] == 0).to_numpy(np.float64), y, fold)
    expected = rated["expected_score"] if "expected_score" in rated.columns else None
    if expected is not None and np.isfinite(expected.to_numpy(np.float64)).all():
        ceiling = expected.to_numpy(np.float64)
    else:
        if recipes is None or "severity" not in recipes.columns:
            raise ValueError("the severity control needs the table's expected_score or the recipes' severity")
        severity = rated[KEY].merge(recipes.assign(track_id=recipes["track_id"].astype(str),
                                                   variant_id=recipes["variant_id"].astype(np.int64))
                                    [[*KEY, "severity"]].drop_duplicates(KEY), on=KEY, how="left")["severity"]
        if severity.isna().any():
            raise ValueError(f"{int(severity.isna().sum())} rated mix(es) have no recipe severity")
        ceiling = _isotonic_oof(severity.to_numpy(np.float64), y, fold)
    frames = [_units(rated, pred, source, seed, which)
              for source, pred in (("is-reference", is_reference), ("severity", ceiling))
              for which in QUALITY_METRICS]
    return pd.concat(frames, ignore_index=True)
