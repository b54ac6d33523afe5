"""Stage 2 quality: the K-fold folds, the no-/full-reference regressors and the controls on planted cases,
and the ideal-balance panel (a fault can improve a weak reference; a whole-mix level change is free)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mixrep.evaluation.quality import fold_plans, quality_control_units, quality_units
from mixrep.evaluation.stats import metric_value
from mixrep.ratings.synthetic import (MixState, PanelSettings, apply_faults, ideal_state, perceived_ideal,
                                      simulate_ratings, synthetic_table)
from mixrep.ratings.table import assign_folds, with_folds
from mixrep.stems import STEMS

FAST = {"hidden": 32, "dropout": 0.0, "lr": 0.01, "weight_decay": 0.0, "batch_size": 64, "max_epochs": 300,
        "patience": 30}


def planted(score_of, n_songs: int = 30, variants: int = 8, dim: int = 6, seed: int = 0):
    """Ratings + embeddings of n_songs x variants mixes, with score = score_of(e_mix, e_ref)."""
    rng = np.random.default_rng(seed)
    rows, emb = [], []
    for s in range(n_songs):
        track = f"g{s % 3}-{s:03d}"
        ref = rng.normal(size=dim)
        for v in range(variants):
            e = ref if v == 0 else ref + rng.normal(scale=1.0, size=dim)
            emb.append({"track_id": track, "variant_id": v, "split": "val", "genre": f"g{s % 3}",
                        "embedding": e.astype(np.float32)})
            rows.append({"mix_id": f"{track}:{v}", "song_id": track, "track_id": track, "variant_id": v,
                         "score": float(score_of(e, ref))})
    ratings = with_folds(pd.DataFrame(rows), 5, seed, {f"g{s % 3}-{s:03d}": f"g{s % 3}" for s in range(n_songs)})
    return ratings, pd.DataFrame(emb)


def value(units: pd.DataFrame, metric: str, source: str | None = None) -> float:
    rows = units[units["metric"] == metric]
    if source is not None:
        rows = rows[rows["source"] == source]
    return metric_value(rows, "r2" if metric.endswith("r2") else "tau_within")


# ------------------------------------------------------------------ folds
def test_folds_are_song_disjoint_genre_stratified_and_deterministic() -> None:
    songs = [f"s{i:02d}" for i in range(23)]
    genres = {s: ["rock", "jazz", "pop"][i % 3] for i, s in enumerate(songs)}  # 8 / 8 / 7 songs
    folds = assign_folds(songs, genres, 5, seed=4)
    assert folds == assign_folds(list(reversed(songs)), genres, 5, seed=4)  # order-free, seeded
    assert folds != assign_folds(songs, genres, 5, seed=5)
    assert set(folds.values()) == set(range(5))
    sizes = np.bincount(list(folds.values()))
    assert sizes.max() - sizes.min() <= 1
    for genre in ("rock", "jazz", "pop"):  # 8 songs over 5 folds: every fold gets 1 or 2
        per_fold = np.bincount([folds[s] for s in songs if genres[s] == genre], minlength=5)
        assert per_fold.min() >= 1 and per_fold.max() <= 2
    table = pd.DataFrame({"song_id": np.repeat(songs, 3), "mix_id": [f"{s}:{v}" for s in songs for v in range(3)]})
    table = with_folds(table, 5, 4, genres)
    assert (table.groupby("song_id")["fold"].nunique() == 1).all()  # a song never spans folds
    assert table["fold"].dtype == np.int64
    assert dict(zip(table["fold"], table["split"])) == {0: "test", 1: "val", 2: "train", 3: "train", 4: "train"}


def test_fold_plans_rotate_test_and_validation() -> None:
    plans = fold_plans(np.array([0, 1, 2, 3, 4]))
    assert [(p.test, p.val, p.train) for p in plans[3:]] == [(3, 4, (0, 1, 2)), (4, 0, (1, 2, 3))]
    with pytest.raises(ValueError, match="at least 3 ratings folds"):
        fold_plans(np.array([0, 1]))
    # a fold with no rated mix (a small source): the present folds rotate among themselves
    gaps = fold_plans(np.array([0, 1, 3, 3, 0]))
    assert [(p.test, p.val, p.train) for p in gaps] == [(0, 1, (3,)), (1, 3, (0,)), (3, 0, (1,))]


# ------------------------------------------------------------------ regressors on planted cases
def test_noref_recovers_a_linear_score() -> None:
    w = np.array([3.0, -2.0, 1.0, 0.5, 0.0, 0.0])
    ratings, embeddings = planted(lambda e, ref: float(e @ w))
    units, info = quality_units(ratings, embeddings, FAST, "planted", seed=0)
    assert info["folds"] == 5 and info["mixes"] == 240 and info["dropped_without_embedding"] == 0
    assert value(units, "quality_noref_r2") > 0.9
    assert value(units, "quality_noref_tau") > 0.7
    again, _ = quality_units(ratings, embeddings, FAST, "planted", seed=0)
    assert again.equals(units)  # seeded
    assert set(units.columns) == {"source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred"}
    assert units.groupby("metric")["item"].apply(lambda s: s.is_unique).all()
    assert units["y_pred"].notna().all()  # every rated mix predicted out of fold


def test_fullref_beats_noref_when_the_score_is_the_distance_to_the_reference() -> None:
    ratings, embeddings = planted(lambda e, ref: -float(np.linalg.norm(e - ref)))
    units, _ = quality_units(ratings, embeddings, FAST, "planted", seed=1)
    noref, fullref = value(units, "quality_noref_r2"), value(units, "quality_fullref_r2")
    assert fullref > 0.6 and fullref > noref + 0.3, (noref, fullref)
    assert value(units, "quality_fullref_tau") > value(units, "quality_noref_tau") + 0.2


def test_controls_is_reference_and_noise_ceiling() -> None:
    ratings, _ = planted(lambda e, ref: 0.0)
    rng = np.random.default_rng(0)
    ref = ratings["variant_id"] == 0
    ratings["expected_score"] = np.where(ref, 90.0, rng.uniform(20, 80, len(ratings)))
    ratings["score"] = ratings["expected_score"] + rng.normal(0, 1.0, len(ratings))
    units = quality_control_units(ratings, None, FAST, seed=0)
    assert set(units["source"]) == {"is-reference", "severity"}
    assert set(units["metric"]) == {"quality_noref_r2", "quality_noref_tau", "quality_fullref_r2",
                                    "quality_fullref_tau"}
    # is-reference: the out-of-fold line predicts ~90 for references and the non-reference mean (~50) else
    pred = units[(units["source"] == "is-reference") & (units["metric"] == "quality_noref_r2")]
    refs = pred["item"].str.endswith(":0")
    assert pred.loc[refs, "y_pred"].mean() == pytest.approx(90.0, abs=1.0)
    assert pred.loc[~refs, "y_pred"].mean() == pytest.approx(50.0, abs=3.0)
    assert value(units, "quality_noref_r2", "severity") > 0.99  # the noiseless score: the ceiling
    assert value(units, "quality_noref_r2", "is-reference") < value(units, "quality_noref_r2", "severity")
    # without expected_score: a decreasing isotonic fit of the recipe severity
    recipes = ratings[["track_id", "variant_id"]].assign(severity=100.0 - ratings["expected_score"])
    units = quality_control_units(ratings.drop(columns="expected_score"), recipes, FAST, seed=0)
    assert value(units, "quality_fullref_r2", "severity") > 0.98


# ------------------------------------------------------------------ the ideal-balance panel
def metadata_row(track: str, genre: str, offsets: dict[str, float] | None = None) -> dict:
    """A reference mix at its genre prior's centre, with optional gain offsets per stem."""
    from mixrep.corpus.genres import get_genre

    prior = get_genre(genre).mix
    row = {"track_id": track, "genre": genre, "has_vocals": True, "mix.master.tilt_db": prior.tilt_db.mean}
    for s in STEMS:
        row[f"mix.{s}.gain_db"] = prior.stems[s].gain_db.mean + (offsets or {}).get(s, 0.0)
        row[f"mix.{s}.low_shelf_db"] = prior.stems[s].low_shelf_db.mean
        row[f"mix.{s}.presence_db"] = prior.stems[s].presence_db.mean
        row[f"mix.{s}.high_shelf_db"] = prior.stems[s].high_shelf_db.mean
    return row


def recipe(track: str, variant: int, effects: list[dict], severity: float) -> dict:
    faults = ",".join(e["effect"] for e in effects) or "none"
    return {"track_id": track, "variant_id": variant, "effects": json.dumps(effects), "fault_types": faults,
            "severity": severity}


def test_a_gain_fault_toward_the_ideal_scores_above_the_reference() -> None:
    model = PanelSettings()
    # vocals 6 dB too loud: (6 - 1.5) dB balance error on vocals, -1.5 on each other stem
    metadata = pd.DataFrame([metadata_row("t", "pop", {"vocals": 6.0})])
    recipes = pd.DataFrame([recipe("t", 0, [], 0.0),
                            recipe("t", 1, [{"stem": "vocals", "effect": "gain", "params": {"gain_db": -6.0}}], 4.0),
                            recipe("t", 2, [{"stem": "vocals", "effect": "gain", "params": {"gain_db": 6.0}}], 4.0),
                            recipe("t", 3, [{"stem": "all", "effect": "gain", "params": {"gain_db": 6.0}}], 6.0)])
    perceived = perceived_ideal(recipes, metadata, model)
    reference_error = np.sqrt(4.5 ** 2 + 3 * 1.5 ** 2) / model.balance_tolerance_db  # hand-computed
    assert perceived[0] == pytest.approx(reference_error)
    assert perceived[1] == pytest.approx(0.0, abs=1e-9)      # the fault undoes the weakness
    assert perceived[2] == pytest.approx(2 * reference_error)  # twice as far from the ideal
    assert perceived[3] == pytest.approx(perceived[0])        # a whole-mix level change costs nothing
    scores = model.expected_score(perceived)
    assert scores[1] > scores[0] > scores[2]
    table = synthetic_table(pd.DataFrame({"track_id": ["t", "u", "w"], "genre": "pop", "split": "val",
                                          "status": "ok", "reason": None}),
                            pd.concat([recipes, recipes.assign(track_id="u"), recipes.assign(track_id="w")]),
                            {"panel": {"noise_sd": 0.0, "bias_sd": 0.0, "harshness_sd": 0.0}}, seed=0,
                            metadata=pd.concat([metadata, metadata.assign(track_id="u"),
                                                metadata.assign(track_id="w")]))
    assert (table["panel"] == "ideal").all() and table["simulated"].all()
    song = table[table["track_id"] == "t"].set_index("variant_id")
    assert song.loc[1, "score"] > song.loc[0, "score"] > song.loc[2, "score"]
    assert song["score"].to_numpy() == pytest.approx(song["expected_score"].to_numpy())


def test_eq_and_tilt_faults_move_the_tone_as_documented() -> None:
    model = PanelSettings()
    state = MixState({"bass": 0.0}, {"bass": {"low": 0.0, "presence": 0.0, "high": 0.0}})
    after = apply_faults(state, [
        {"stem": "bass", "effect": "eq_low_shelf", "params": {"freq_hz": 200.0, "gain_db": 4.0}},
        {"stem": "bass", "effect": "eq_peak", "params": {"freq_hz": 2500.0, "gain_db": 6.0, "q": 4.0}},
        {"stem": "bass", "effect": "tilt", "params": {"db_per_octave": 1.0, "pivot_hz": 1000.0}},
        {"stem": "vocals", "effect": "gain", "params": {"gain_db": 9.0}},  # an absent stem: nothing
        {"stem": "bass", "effect": "compress", "params": {}}], model)   # not parametric: nothing here
    peak = 6.0 * (2 / np.log(2) * np.arcsinh(1 / 8)) / 2  # Q=4: ~0.36 octave, so ~18 % of its gain
    assert after.tone["bass"]["low"] == pytest.approx(4.0 + np.log2(0.12))
    assert after.tone["bass"]["presence"] == pytest.approx(peak + np.log2(3.0))
    assert after.tone["bass"]["high"] == pytest.approx(3.0)
    assert after.gain == {"bass": 0.0}
    assert ideal_state("rock", ["bass"]).gain == {"bass": -3.0}


def test_non_parametric_faults_keep_their_share_of_the_severity() -> None:
    model = PanelSettings(fault_weights={"reverb": 0.5})
    metadata = pd.DataFrame([metadata_row("t", "jazz")])  # an ideal reference: D = 0
    effects = [{"stem": "drums", "effect": "reverb", "params": {}},
               {"stem": "bass", "effect": "gain", "params": {"gain_db": 0.0}}]
    perceived = perceived_ideal(pd.DataFrame([recipe("t", 0, [], 0.0), recipe("t", 1, effects, 8.0)]),
                                metadata, model)
    assert perceived.tolist() == pytest.approx([0.0, 8.0 * 0.5 / 2])


def test_without_mix_metadata_the_panel_falls_back_to_severity() -> None:
    recipes = pd.DataFrame([recipe(f"s{i}", v, [] if v == 0 else
                                   [{"stem": "bass", "effect": "gain", "params": {"gain_db": 3.0}}], 2.0 * v)
                            for i in range(4) for v in range(3)])
    manifest = pd.DataFrame({"track_id": [f"s{i}" for i in range(4)], "genre": "x", "split": "test",
                             "status": "ok", "reason": None})
    table = synthetic_table(manifest, recipes, {}, seed=0, metadata=None)
    assert (table["panel"] == "severity").all()
    expected = PanelSettings().expected_score(PanelSettings().perceived_severity(
        np.array([0.0, 2.0, 4.0]), ["none", "gain", "gain"]))
    assert table.groupby("variant_id")["expected_score"].first().to_numpy() == pytest.approx(expected)
    with pytest.raises(ValueError, match="ideal needs"):
        simulate_ratings(recipes, PanelSettings(model="ideal"), seed=0, metadata=None)
