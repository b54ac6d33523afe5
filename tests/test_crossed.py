"""The crossed content x mixing-style set: corpus labels and audio, manifest split, reference-only analysis, and
the crossed metrics on planted embeddings whose answers are known.

One tiny corpus (2 genres x 1 track + 2 held-out arrangements x 2 priors, 1 s) is generated per module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixrep.analyse.settings import AnalyseSettings
from mixrep.analyse.shard import analyse_shard
from mixrep.audio import read_audio, read_stems, write_stems
from mixrep.corpus.generate import CorpusSettings, CrossedSpec, generate_corpus, generate_crossed, write_track
from mixrep.datasets.manifest import DatasetSettings, build_manifest
from mixrep.datasets.synthetic import list_synthetic
from mixrep.evaluation.crossed import (UNIT_COLUMNS, crossed_design, crossed_report, crossed_units, knn_hit,
                                       plot_crossed)
from mixrep.stems import MIXTURE, SAMPLE_RATE, STEMS

SEED = 0
CONFIG = CorpusSettings(genres=("rock", "jazz"), tracks_per_genre=1, seconds=1.0, crossed_arrangements=2,
                      crossed_genres=("pop", "folk"))
CROSSED_IDS = {"syn-x0-rock", "syn-x0-jazz", "syn-x1-rock", "syn-x1-jazz"}
ORDINARY_IDS = {"syn-rock-000", "syn-jazz-000"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("crossed-corpus")
    report = generate_corpus(out, CONFIG, seed=SEED, jobs=1)
    assert not report.failures
    return out, pd.read_parquet(out / "metadata.parquet")


def _samples(folder: Path, name: str) -> np.ndarray:
    audio, rate = read_audio(folder / f"{name}.wav")
    assert rate == SAMPLE_RATE
    return audio


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(_samples(folder, n).tobytes() for n in (MIXTURE, *STEMS))).hexdigest()


# ------------------------------------------------------------------------------------------ corpus
def test_each_arrangement_appears_under_each_prior_exactly_once(corpus):
    _, meta = corpus
    assert set(meta["track_id"]) == ORDINARY_IDS | CROSSED_IDS
    design = crossed_design(meta)
    assert sorted(design.index) == ["syn-x0", "syn-x1"] and sorted(design.columns) == ["jazz", "rock"]
    assert (design.to_numpy() == 1).all()
    crossed = meta[meta["crossed"]].set_index("track_id")
    for track_id, row in crossed.iterrows():
        k, style = track_id.removeprefix("syn-x").split("-", 1)
        assert row.arrangement_id == f"syn-x{k}" and row.style_genre == style == row.genre
        assert row.content_genre == CONFIG.crossed_genres[int(k)]
    ordinary = meta[~meta["crossed"]]
    assert (ordinary["content_genre"] == ordinary["genre"]).all()
    assert (ordinary["style_genre"] == ordinary["genre"]).all()
    assert (ordinary["arrangement_id"] == ordinary["track_id"]).all()


def test_one_arrangement_shares_its_score_and_differs_in_its_mix(corpus):
    _, meta = corpus
    crossed = meta[meta["crossed"]]
    score = ["tempo_bpm", "key", "has_vocals", *(f"program.{s}" for s in STEMS)]
    for _, group in crossed.groupby("arrangement_id"):
        assert len(group[score].drop_duplicates()) == 1  # one arrangement, rendered once
        assert group["mix.master.target_lufs"].nunique() == len(group)  # drawn per prior
    assert crossed.groupby("arrangement_id")["tempo_bpm"].first().nunique() == 2  # two different arrangements


def test_stems_of_every_track_sum_to_its_mixture(corpus):
    out, meta = corpus
    for track_id in meta["track_id"]:
        folder = out / "tracks" / track_id
        stems = read_stems(folder)
        mixture = _samples(folder, MIXTURE)
        assert np.max(np.abs(stems.sum(axis=0, dtype=np.float32) - mixture)) < 1e-6
        assert np.abs(mixture).max() > 0.05


def test_ordinary_tracks_are_byte_identical_with_and_without_the_crossed_set(corpus, tmp_path):
    out, _ = corpus
    plain = CorpusSettings(genres=CONFIG.genres, tracks_per_genre=1, seconds=1.0, crossed_arrangements=0)
    meta = generate_corpus(tmp_path, plain, seed=SEED).metadata
    assert set(meta["track_id"]) == ORDINARY_IDS
    for track_id in ORDINARY_IDS:
        for name in (MIXTURE, *STEMS):
            assert np.array_equal(_samples(tmp_path / "tracks" / track_id, name),
                                  _samples(out / "tracks" / track_id, name))


def test_a_crossed_track_does_not_depend_on_the_other_priors(corpus, tmp_path):
    """Mixed alone under its prior, a crossed track equals the one mixed beside the others (dry render reused)."""
    out, _ = corpus
    alone = CrossedSpec("folk", 1, SEED, ("jazz",))
    (track,) = list(generate_crossed(alone, CONFIG))
    folder = write_track(track, tmp_path)
    assert folder.name == "syn-x1-jazz"
    assert _digest(folder) == _digest(out / "tracks" / "syn-x1-jazz")


def test_config_checks_the_crossed_keys():
    with pytest.raises(ValueError, match="crossed_arrangements"):
        CorpusSettings.from_config({"crossed_arrangements": -1})
    with pytest.raises(ValueError, match="polka"):
        CorpusSettings.from_config({"crossed_genres": ["polka"]})
    assert CorpusSettings.from_config({"crossed_genres": ["metal"]}).crossed_genres == ("metal",)


# ---------------------------------------------------------------------------------------- manifest
def test_manifest_puts_crossed_tracks_in_their_own_split_with_the_style_as_genre(corpus):
    out, _ = corpus
    table, _ = build_manifest(list_synthetic(out / "metadata.parquet"), DatasetSettings(segment_s=0.5))
    assert (table["status"] == "ok").all()
    split = dict(zip(table["track_id"], table["split"]))
    genre = dict(zip(table["track_id"], table["genre"]))
    assert {t for t, s in split.items() if s == "crossed"} == CROSSED_IDS
    assert all(split[t] in ("train", "val", "test") for t in ORDINARY_IDS)
    assert all(genre[t] == t.rsplit("-", 1)[1] for t in CROSSED_IDS)


# ---------------------------------------------------------------------------------------- analyse
ANALYSE = {"seed": 3, "shard_size": 4, "features": {"n_mels": 32}, "degrade": {"variants_per_track": 2},
           "pretrain": {"mel_max_s": 1.0, "segment_frames": 32}, "analysis": {"excerpt_s": 1.0}}


def _index(root: Path, splits: dict[str, str] | None) -> Path:
    rows = []
    for k, track_id in enumerate(("syn-rock-000", "syn-x0-rock")):
        stems = (0.05 * np.random.default_rng(k).standard_normal((4, 2, SAMPLE_RATE))).astype(np.float32)
        write_stems(root / track_id, stems)
        row = {"track_id": track_id, "stem_dir": str(root / track_id), "method": "oracle",
               "num_samples": SAMPLE_RATE, "status": "ok", "reason": ""}
        if splits is not None:
            row["split"] = splits[track_id]
        rows.append(row)
    pd.DataFrame(rows).to_parquet(root / "index.parquet", index=False)
    return root / "index.parquet"


def _variants(analysis) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in analysis.recipes:
        out.setdefault(row.track_id, []).append(row.variant_id)
    return out


def test_analyse_renders_only_the_reference_of_a_crossed_track(tmp_path):
    settings = AnalyseSettings.from_config(ANALYSE)
    index = _index(tmp_path, {"syn-rock-000": "train", "syn-x0-rock": "crossed"})
    analysis = analyse_shard(index, settings)
    assert _variants(analysis) == {"syn-rock-000": [0, 1, 2], "syn-x0-rock": [0]}
    assert analysis.renders == 4
    assert {k[0] for k in analysis.feature_keys} == {"syn-rock-000", "syn-x0-rock"}
    assert {(t, v) for t, v, _ in analysis.mel_items} == {("syn-rock-000", 0), ("syn-rock-000", 1),
                                                           ("syn-rock-000", 2), ("syn-x0-rock", 0)}


def test_analyse_without_a_split_column_takes_the_splits_argument(tmp_path):
    settings = AnalyseSettings.from_config(ANALYSE)
    index = _index(tmp_path, None)
    assert _variants(analyse_shard(index, settings)) == {"syn-rock-000": [0, 1, 2], "syn-x0-rock": [0, 1, 2]}
    given = analyse_shard(index, settings, splits={"syn-x0-rock": "crossed"})
    assert _variants(given) == {"syn-rock-000": [0, 1, 2], "syn-x0-rock": [0]}


# ------------------------------------------------------------------------------- planted embeddings
STYLES = ("rock", "metal", "pop", "jazz")
N_ARRANGEMENTS = 3


def _planted(vector) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A complete crossed set (3 arrangements x 4 priors) plus ordinary rows that must be ignored."""
    emb, meta = [], []
    for a in range(N_ARRANGEMENTS):
        for s, style in enumerate(STYLES):
            tid = f"syn-x{a}-{style}"
            meta.append({"track_id": tid, "genre": style, "content_genre": "pop", "style_genre": style,
                         "arrangement_id": f"syn-x{a}"})
            emb.append({"track_id": tid, "variant_id": 0, "split": "crossed", "genre": style,
                        "embedding": np.asarray(vector(a, s), dtype=np.float32)})
    for style in STYLES:  # ordinary tracks and degraded variants: never part of the crossed metrics
        tid = f"syn-{style}-000"
        meta.append({"track_id": tid, "genre": style, "content_genre": style, "style_genre": style,
                     "arrangement_id": tid})
        emb.append({"track_id": tid, "variant_id": 0, "split": "test", "genre": style,
                    "embedding": np.ones(len(STYLES) + N_ARRANGEMENTS, dtype=np.float32)})
    emb.append({"track_id": "syn-x0-rock", "variant_id": 1, "split": "crossed", "genre": "rock",
                "embedding": -np.ones(len(STYLES) + N_ARRANGEMENTS, dtype=np.float32)})
    return pd.DataFrame(emb), pd.DataFrame(meta)


def _one_hot(i: int, n: int = len(STYLES) + N_ARRANGEMENTS) -> np.ndarray:
    v = np.zeros(n)
    v[i] = 1.0
    return v


def _metric(units: pd.DataFrame, name: str) -> float:
    return float(units.loc[units["metric"] == name, "y_pred"].mean())


def test_units_have_the_contract_format():
    emb, meta = _planted(lambda a, s: _one_hot(s))
    units = crossed_units(emb, meta, source="film-all", seed=2)
    assert list(units.columns) == list(UNIT_COLUMNS)
    assert len(units) == 2 * len(STYLES) * N_ARRANGEMENTS
    assert set(units["metric"]) == {"style_knn", "content_leakage"}
    assert (units["seed"] == 2).all() and units["seed"].dtype == np.int64 and (units["source"] == "film-all").all()
    assert (units["unit"] == units["item"].str.rsplit("-", n=1).str[0]).all()  # unit = arrangement_id
    assert (units["group"] == "").all() and (units["y_true"] == 1.0).all()
    assert not units.duplicated(["metric", "unit", "group", "item"]).any()


def test_an_embedding_of_the_style_alone_finds_style_and_no_content():
    emb, meta = _planted(lambda a, s: _one_hot(s))
    units = crossed_units(emb, meta, "style", 0)
    assert _metric(units, "style_knn") == 1.0 and _metric(units, "content_leakage") == 0.0
    report = crossed_report(emb, meta)
    assert report["n_tracks"] == 12 and report["n_arrangements"] == 3 and report["n_styles"] == 4
    assert report["complete"] and report["style_knn"] == 1.0 and report["content_leakage"] == 0.0
    assert report["style_knn_chance"] == pytest.approx(1 / 4)
    assert report["content_leakage_chance"] == pytest.approx(3 / 11)
    assert report["distance_same_style_other_content"] == pytest.approx(0.0)
    assert report["distance_same_content_other_style"] == pytest.approx(1.0)
    assert report["distance_ratio_style_over_content"] == pytest.approx(0.0)


def test_an_embedding_of_the_arrangement_alone_leaks_content_and_finds_style_at_chance():
    """Every other arrangement's track is equally far: the tie-aware hit is exactly 1/n_styles (chance)."""
    emb, meta = _planted(lambda a, s: _one_hot(len(STYLES) + a))
    units = crossed_units(emb, meta, "content", 0)
    assert _metric(units, "content_leakage") == 1.0
    assert np.allclose(units.loc[units["metric"] == "style_knn", "y_pred"], 1 / len(STYLES))
    report = crossed_report(emb, meta)
    assert report["distance_same_content_other_style"] == pytest.approx(0.0)
    assert report["distance_same_style_other_content"] == pytest.approx(1.0)
    assert report["distance_ratio_style_over_content"] is None  # content distance 0: no ratio


def test_an_embedding_that_pairs_each_style_with_another_across_arrangements_scores_zero():
    """Code (style + arrangement) mod 4: the nearest other-arrangement track always has another style, and
    the own arrangement's tracks all have distinct codes, so both metrics are 0."""
    emb, meta = _planted(lambda a, s: _one_hot((s + a) % len(STYLES)))
    units = crossed_units(emb, meta, "shifted", 0)
    assert _metric(units, "style_knn") == 0.0 and _metric(units, "content_leakage") == 0.0


def test_prior_cluster_distance_and_rank():
    """rock and metal share a direction: centroid cosine distance 1 - 0.9 / sqrt(0.82), the closest pair."""
    directions = {"rock": [1.0, 0.0, 0.0], "metal": [0.9, 0.1, 0.0], "pop": [0.0, 1.0, 0.0], "jazz": [0.0, 0.0, 1.0]}
    emb, meta = _planted(lambda a, s: directions[STYLES[s]])
    report = crossed_report(emb, meta)
    assert report["rock_metal_distance"] == pytest.approx(1 - 0.9 / np.sqrt(0.82), abs=1e-6)
    assert report["rock_metal_rank"] == 1 and report["prior_pairs"] == 6
    # rock-pop, rock-jazz, metal-jazz, pop-jazz are orthogonal (1), metal-pop 1 - 0.1/sqrt(0.82): median 1
    assert report["prior_distance_median"] == pytest.approx(1.0)


def test_knn_hit_counts_ties_as_a_random_tie_break():
    sim = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    hits = np.array([False, True, False, False, True])
    everyone = np.ones(5, dtype=bool)
    assert knn_hit(sim, everyone, hits, k=1) == 0.0
    assert knn_hit(sim, everyone, hits, k=2) == pytest.approx((0 + 1 * (1 / 3)) / 2)
    assert knn_hit(sim, everyone, hits, k=4) == pytest.approx(1 / 4)
    assert knn_hit(sim, np.array([False, True, True, True, True]), hits, k=1) == pytest.approx(1 / 3)
    assert np.isnan(knn_hit(sim, np.zeros(5, dtype=bool), hits))


def test_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    emb, meta = _planted(lambda a, s: _one_hot(s) + 0.1 * rng.standard_normal(len(STYLES) + N_ARRANGEMENTS))
    path = plot_crossed(emb, meta, tmp_path / "crossed.png", "planted")
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
