"""FX-parameter probe: how linearly readable the recipe is from a frozen item embedding (issue 15, item 6).

For every fault type a linear probe predicts its presence in a variant (`probe_fault_auc`, one group per
fault) and a ridge regression predicts the recipe's severity (`probe_severity_r2`). Both are out-of-fold
over the test split with folds by track (a track's variants share content, so a probe must never see the
track it is scored on), and every source (trained cell or control) gets the same folds for a seed, so the
units pair row by row across sources.

Fixed choices (the same for every source, so no source is tuned more than another):
- embeddings are standardised with the training fold's mean and std;
- fault presence: LogisticRegression(C=1.0, class_weight="balanced", lbfgs), score = decision_function;
- severity: Ridge with alpha picked by an inner track-grouped CV on the training fold among
  `SEVERITY_ALPHAS` (least pooled squared error; ties to the larger alpha).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge

UNIT_COLUMNS: tuple[str, ...] = ("source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred")
SEVERITY_ALPHAS: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
NO_FAULT = "none"
MIN_PER_CLASS = 2


@dataclass(frozen=True)
class ProbeData:
    """The split's items in a fixed order (track, variant) with their embeddings and recipe labels."""

    tracks: np.ndarray      # (n,) track_id
    items: np.ndarray       # (n,) "<track>:<variant>"
    x: np.ndarray           # (n, d) float64 embeddings
    faults: list[set[str]]  # per item, the fault types of its recipe (empty for the reference)
    severity: np.ndarray    # (n,) float64


def parse_faults(value: object) -> set[str]:
    """The fault types of one `recipes.fault_types` cell ('none' or a comma list)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return set()
    return {f.strip() for f in str(value).split(",") if f.strip() and f.strip() != NO_FAULT}


def all_faults(recipes: pd.DataFrame) -> list[str]:
    """Every fault type in the recipes table (all splits), sorted: the same list whatever the source."""
    found: set[str] = set()
    for value in recipes["fault_types"]:
        found |= parse_faults(value)
    return sorted(found)


def probe_data(embeddings: pd.DataFrame, recipes: pd.DataFrame, split: str) -> ProbeData:
    """Join one split's embeddings to their recipes; every embedded item must have a recipe."""
    emb = embeddings.loc[embeddings["split"] == split, ["track_id", "variant_id", "embedding"]].copy()
    emb["track_id"] = emb["track_id"].astype(str)
    emb["variant_id"] = emb["variant_id"].astype(np.int64)
    rec = recipes[["track_id", "variant_id", "fault_types", "severity"]].copy()
    rec["track_id"] = rec["track_id"].astype(str)
    rec["variant_id"] = rec["variant_id"].astype(np.int64)
    if rec.duplicated(["track_id", "variant_id"]).any():
        raise ValueError("recipes hold duplicate (track_id, variant_id) rows")
    joined = emb.merge(rec, on=["track_id", "variant_id"], how="left", validate="one_to_one")
    missing = joined["fault_types"].isna()
    if missing.any():
        first = joined.loc[missing, ["track_id", "variant_id"]].iloc[0].tolist()
        raise ValueError(f"{int(missing.sum())} embedded {split} items have no recipe, e.g. {first}")
    joined = joined.sort_values(["track_id", "variant_id"], kind="stable").reset_index(drop=True)
    x = np.stack([np.asarray(e, dtype=np.float64) for e in joined["embedding"]]) if len(joined) else \
        np.zeros((0, 0))
    items = (joined["track_id"] + ":" + joined["variant_id"].astype(str)).to_numpy(dtype=object)
    return ProbeData(joined["track_id"].to_numpy(dtype=object), items, x,
                     [parse_faults(v) for v in joined["fault_types"]],
                     joined["severity"].to_numpy(dtype=np.float64))


def track_folds(tracks: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per item, whole tracks per fold, k = min(folds, n_tracks): the tracks in a
    seed-permuted order are dealt round robin, so folds differ by at most one track and depend only on
    the track set and the seed (the same for every source)."""
    unique = np.array(sorted(set(tracks.tolist())), dtype=object)
    k = max(1, min(int(folds), unique.size))
    order = np.random.default_rng(seed).permutation(unique.size)
    fold_of = {unique[j]: i % k for i, j in enumerate(order)}
    return np.array([fold_of[t] for t in tracks], dtype=np.int64)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def _logistic_oof(x: np.ndarray, y: np.ndarray, fold: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
    """Out-of-fold decision scores; a fold whose training part holds one class only scores 0 (returned
    as the count of such folds)."""
    scores = np.zeros(y.size)
    degenerate = 0
    for k in np.unique(fold):
        test = fold == k
        if np.unique(y[~test]).size < 2:
            degenerate += 1
            continue
        train_x, test_x = _standardise(x[~test], x[test])
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
        model.fit(train_x, y[~test])
        scores[test] = model.decision_function(test_x)
    return scores, degenerate


def _ridge_fit_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                       alpha: float) -> np.ndarray:
    train_x, test_x = _standardise(train_x, test_x)
    return Ridge(alpha=alpha).fit(train_x, train_y).predict(test_x)


def _inner_alpha(x: np.ndarray, y: np.ndarray, tracks: np.ndarray, folds: int, seed: int) -> float:
    """The alpha of SEVERITY_ALPHAS with the least pooled out-of-fold squared error on these tracks."""
    inner = track_folds(tracks, folds, seed + 1)
    if np.unique(inner).size < 2:
        return 1.0
    best, best_sse = SEVERITY_ALPHAS[0], np.inf
    for alpha in SEVERITY_ALPHAS:
        pred = np.zeros(y.size)
        for k in np.unique(inner):
            test = inner == k
            pred[test] = _ridge_fit_predict(x[~test], y[~test], x[test], alpha)
        sse = float(np.sum((y - pred) ** 2))
        if sse <= best_sse:
            best, best_sse = alpha, sse
    return best


def _ridge_oof(data: ProbeData, fold: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, list[float]]:
    pred = np.zeros(data.severity.size)
    alphas = []
    for k in np.unique(fold):
        test = fold == k
        alpha = _inner_alpha(data.x[~test], data.severity[~test], data.tracks[~test], folds, seed)
        alphas.append(alpha)
        pred[test] = _ridge_fit_predict(data.x[~test], data.severity[~test], data.x[test], alpha)
    return pred, alphas


def _units(source: str, seed: int, metric: str, data: ProbeData, group: str, y_true: np.ndarray,
           y_pred: np.ndarray) -> pd.DataFrame:
    n = y_true.size
    return pd.DataFrame({
        "source": pd.Series([source] * n, dtype=object), "seed": np.full(n, seed, dtype=np.int64),
        "metric": [metric] * n, "unit": data.tracks.astype(str), "item": data.items.astype(str),
        "group": [group] * n, "y_true": y_true.astype(np.float64), "y_pred": y_pred.astype(np.float64),
    }, columns=list(UNIT_COLUMNS))


def _empty_units() -> pd.DataFrame:
    dtypes = (object, np.int64, object, object, object, object, np.float64, np.float64)
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(UNIT_COLUMNS, dtypes)})


def probe_units(embeddings: pd.DataFrame, recipes: pd.DataFrame, source: str, seed: int,
                split: str = "test", folds: int = 5) -> tuple[pd.DataFrame, dict]:
    """Units rows of `probe_fault_auc` (group = fault) and `probe_severity_r2` for one source and seed.

    Args:
        embeddings: results/embed/<source>/seed<s>.parquet (track_id, variant_id, split, embedding, ...).
        recipes: the concatenated results/variants/*/recipes.parquet (track_id, variant_id, fault_types,
            severity).
    Returns:
        (units, info): units in the contract's columns, y_pred the out-of-fold score / prediction; info
        lists the faults probed, those skipped (fewer than MIN_PER_CLASS positives or negatives) with the
        reason, the fold count, the severity alphas chosen per fold and folds that could not be fitted.
    """
    data = probe_data(embeddings, recipes, split)
    n_tracks = len(set(data.tracks.tolist()))
    info: dict = {"split": split, "n_items": int(data.items.size), "n_tracks": n_tracks, "faults": [],
                  "skipped": {}, "folds": 0, "severity_alphas": [], "degenerate_folds": {}}
    frames: list[pd.DataFrame] = []
    if n_tracks < 2:
        reason = f"{n_tracks} track(s) in split {split!r}: no cross-validation by track"
        info["skipped"] = {name: reason for name in [*all_faults(recipes), "severity"]}
        return _empty_units(), info
    fold = track_folds(data.tracks, folds, seed)
    info["folds"] = int(np.unique(fold).size)
    for fault in all_faults(recipes):
        y = np.array([fault in f for f in data.faults], dtype=np.int64)
        positives, negatives = int(y.sum()), int(y.size - y.sum())
        if positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
            info["skipped"][fault] = f"{positives} positives, {negatives} negatives in split {split!r}"
            continue
        scores, degenerate = _logistic_oof(data.x, y, fold, seed)
        info["faults"].append(fault)
        if degenerate:
            info["degenerate_folds"][fault] = degenerate
        frames.append(_units(source, seed, "probe_fault_auc", data, fault, y.astype(np.float64), scores))
    if np.ptp(data.severity) > 0:
        pred, alphas = _ridge_oof(data, fold, folds, seed)
        info["severity_alphas"] = alphas
        frames.append(_units(source, seed, "probe_severity_r2", data, "", data.severity, pred))
    else:
        info["skipped"]["severity"] = f"constant severity in split {split!r}"
    return (pd.concat(frames, ignore_index=True) if frames else _empty_units()), info
