"""The FX-parameter probe on planted embeddings whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mixrep.evaluation.probe import UNIT_COLUMNS, all_faults, parse_faults, probe_units, track_folds

FAULTS = ("alpha", "beta", "gamma")


def _recipes(n_tracks: int = 20, n_variants: int = 9, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tracks):
        for v in range(n_variants):
            faults = [] if v == 0 else [f for f in FAULTS if rng.random() < 0.45]
            rows.append({"track_id": f"trk-{t:02d}", "variant_id": np.int32(v),
                         "fault_types": ",".join(faults) if faults else "none",
                         "severity": 0.0 if v == 0 else float(rng.uniform(0.5, 10.0))})
    return pd.DataFrame(rows)


def _embeddings(recipes: pd.DataFrame, make, dim: int = 16, seed: int = 1,
                split: str = "test") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = []
    for row in recipes.itertuples():
        vector = rng.standard_normal(dim)
        make(vector, row, rng)
        out.append({"track_id": row.track_id, "variant_id": int(row.variant_id), "split": split,
                    "genre": "g", "embedding": vector.astype(np.float32)})
    return pd.DataFrame(out)


def _aucs(units: pd.DataFrame) -> dict[str, float]:
    rows = units[units.metric == "probe_fault_auc"]
    return {g: roc_auc_score(d.y_true, d.y_pred) for g, d in rows.groupby("group")}


def _r2(units: pd.DataFrame) -> float:
    d = units[units.metric == "probe_severity_r2"]
    return 1 - ((d.y_true - d.y_pred) ** 2).sum() / ((d.y_true - d.y_true.mean()) ** 2).sum()


def test_planted_fault_dimension_is_found_and_the_others_are_chance() -> None:
    recipes = _recipes()

    def plant(vector, row, rng):
        vector[0] = float("alpha" in row.fault_types) + 0.1 * rng.standard_normal()

    units, info = probe_units(_embeddings(recipes, plant), recipes, "planted", seed=0)
    assert info["faults"] == list(FAULTS) and info["skipped"] == {} and info["folds"] == 5
    aucs = _aucs(units)
    assert aucs["alpha"] > 0.98
    assert abs(aucs["beta"] - 0.5) < 0.15 and abs(aucs["gamma"] - 0.5) < 0.15


def test_random_embeddings_give_chance_auc() -> None:
    recipes = _recipes(n_tracks=30)
    units, _ = probe_units(_embeddings(recipes, lambda v, r, g: None), recipes, "random", seed=3)
    aucs = _aucs(units)
    assert set(aucs) == set(FAULTS)
    assert all(abs(a - 0.5) < 0.15 for a in aucs.values()), aucs
    assert np.mean(list(aucs.values())) == pytest.approx(0.5, abs=0.1)
    assert _r2(units) < 0.1   # nothing to learn: out of fold, no better than the mean


def test_planted_linear_severity_gives_r2_near_one() -> None:
    recipes = _recipes()
    weights = np.random.default_rng(9).standard_normal(16)

    def plant(vector, row, rng):
        vector[:] = row.severity * weights / 4.0 + 0.05 * rng.standard_normal(vector.size)  # one direction

    units, info = probe_units(_embeddings(recipes, plant), recipes, "planted", seed=0)
    assert _r2(units) > 0.98
    assert len(info["severity_alphas"]) == info["folds"]


def test_units_format_items_and_split() -> None:
    recipes = _recipes(n_tracks=8)
    emb = _embeddings(recipes, lambda v, r, g: None)
    train = _embeddings(recipes, lambda v, r, g: None, split="train")
    train["track_id"] = "tr-" + train["track_id"]       # other tracks in another split: ignored
    units, info = probe_units(pd.concat([emb, train]), recipes, "src", seed=2)
    assert list(units.columns) == list(UNIT_COLUMNS)
    assert units.seed.dtype == np.int64 and units.y_true.dtype == np.float64
    assert (units.source == "src").all()
    assert info["n_items"] == 8 * 9 and info["n_tracks"] == 8
    for (metric, group), d in units.groupby(["metric", "group"]):
        assert len(d) == 72 and d["item"].is_unique
        assert set(d.unit) == {f"trk-{t:02d}" for t in range(8)}
        assert (d["item"].str.split(":").str[0] == d.unit).all()
    sev = units[units.metric == "probe_severity_r2"]
    assert (sev.group == "").all() and sev.set_index("item").loc["trk-03:0", "y_true"] == 0.0
    presence = units[(units.metric == "probe_fault_auc")].set_index(["group", "item"])
    row = recipes.iloc[5]
    for fault in FAULTS:
        expected = float(fault in parse_faults(row.fault_types))
        assert presence.loc[(fault, f"{row.track_id}:{row.variant_id}"), "y_true"] == expected


def test_deterministic_given_seed_and_folds_by_track() -> None:
    recipes = _recipes(n_tracks=12)
    emb = _embeddings(recipes, lambda v, r, g: None)
    a, _ = probe_units(emb, recipes, "s", seed=5)
    b, _ = probe_units(emb.sample(frac=1.0, random_state=0), recipes, "s", seed=5)  # row order irrelevant
    pd.testing.assert_frame_equal(a, b)
    c, _ = probe_units(emb, recipes, "s", seed=6)
    assert not np.allclose(a.y_pred, c.y_pred)            # another seed, other folds
    tracks = np.repeat(np.array([f"t{i}" for i in range(7)], dtype=object), 3)
    fold = track_folds(tracks, 5, seed=0)
    assert all(np.unique(fold[tracks == t]).size == 1 for t in set(tracks))   # a track sits in one fold
    assert sorted(np.bincount(fold).tolist()) == [3, 3, 3, 6, 6]       # 7 tracks dealt into 5 folds
    assert np.unique(track_folds(tracks[:6], 5, seed=0)).size == 2     # folds = min(folds, n_tracks)


def test_rare_fault_is_skipped_and_reference_none_is_not_a_fault() -> None:
    recipes = _recipes(n_tracks=6)
    recipes.loc[recipes.index[7], "fault_types"] = "alpha,rare"
    assert all_faults(recipes) == ["alpha", "beta", "gamma", "rare"]
    units, info = probe_units(_embeddings(recipes, lambda v, r, g: None), recipes, "s", seed=0)
    assert "rare" in info["skipped"] and "1 positives" in info["skipped"]["rare"]
    assert "rare" not in set(units.group) and "none" not in set(units.group)
