"""Stage 2 metrics against hand-computed values (mixrep.evaluation.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.evaluation import metrics as m


def test_r2_and_rmse_hand_values() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.0, 4.0, 3.0])
    # SS_res = 0 + 0 + 1 + 1 = 2; SS_tot = 2.25 + .25 + .25 + 2.25 = 5  ->  R² = 1 - 2/5
    assert m.r2_score(y, p) == pytest.approx(0.6)
    assert m.rmse(y, p) == pytest.approx(np.sqrt(0.5))
    assert m.r2_score(y, y) == 1.0
    assert np.isnan(m.r2_score(np.ones(3), np.arange(3.0)))


def test_kendall_tau_b_with_ties_hand_count() -> None:
    x = np.array([1, 2, 2, 3], dtype=float)
    y = np.array([1, 3, 2, 2], dtype=float)
    # 6 pairs: (0,1) C, (0,2) C, (0,3) C, (1,2) tied in x, (1,3) D, (2,3) tied in y.
    # C - D = 2; pairs untied in x = 5, untied in y = 5  ->  tau_b = 2 / sqrt(5 * 5) = 0.4
    assert m.kendall_tau_b(x, y) == pytest.approx(0.4)
    assert m.kendall_tau_b(x, x) == pytest.approx(1.0)
    assert m.kendall_tau_b(x, -x) == pytest.approx(-1.0)
    assert np.isnan(m.kendall_tau_b(np.ones(4), y))


def test_kendall_large_input_agrees_with_pairwise() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=m._PAIRWISE_TAU_MAX_N + 50).astype(float)
    y = x + rng.integers(0, 10, size=x.size)
    large = m.kendall_tau_b(x, y)
    i, j = np.triu_indices(x.size, k=1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    assert large == pytest.approx(np.sum(sx * sy) / np.sqrt(np.count_nonzero(sx) * np.count_nonzero(sy)))


def test_per_song_tau_orders_within_songs_only() -> None:
    songs = np.array(["a", "a", "a", "b", "b", "b"])
    true = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    pred = np.array([30.0, 31.0, 32.0, 3.0, 2.0, 1.0])  # song a ordered right, song b reversed
    assert m.per_song_tau(true, pred, songs) == {"a": pytest.approx(1.0), "b": pytest.approx(-1.0)}
    assert m.mean_per_song_tau(true, pred, songs) == pytest.approx(0.0)


def test_bootstrap_constant_data_has_zero_width() -> None:
    groups = np.repeat(np.arange(10), 3)
    values = np.full(groups.size, 7.0)
    estimate = m.bootstrap_ci(groups, lambda idx, draw: float(values[idx].mean()), n_boot=200, seed=1)
    assert (estimate.value, estimate.low, estimate.high) == (7.0, 7.0, 7.0)


def test_bootstrap_resamples_whole_groups() -> None:
    # Rows of one group are identical: a replicate mean is the mean of the drawn group values, so the
    # interval must stay inside their range, and a draw labels a song drawn twice as two songs.
    groups = np.repeat(np.arange(4), 5)
    values = np.repeat([0.0, 1.0, 2.0, 3.0], 5)
    seen_sizes = []

    def stat(idx: np.ndarray, draw: np.ndarray) -> float:
        seen_sizes.append((idx.size, len(np.unique(draw))))
        return float(values[idx].mean())

    estimate = m.bootstrap_ci(groups, stat, n_boot=100, seed=0)
    assert estimate.value == pytest.approx(1.5)
    assert 0.0 <= estimate.low <= 1.5 <= estimate.high <= 3.0
    assert all(size == 20 and groups_drawn == 4 for size, groups_drawn in seen_sizes)


def test_bootstrap_coverage_sanity() -> None:
    # 95% percentile CIs of a normal mean (n = 40 groups) should cover the true mean about 95% of the time.
    rng = np.random.default_rng(123)
    covered = 0
    trials = 150
    for t in range(trials):
        values = rng.normal(5.0, 2.0, size=40)
        est = m.bootstrap_ci(np.arange(40), lambda idx, draw: float(values[idx].mean()), n_boot=300, seed=t)
        covered += est.low <= 5.0 <= est.high
    assert 0.85 <= covered / trials <= 0.995


def test_regression_report_structure_and_seed_spread() -> None:
    rng = np.random.default_rng(0)
    songs = np.repeat(np.arange(12), 4)
    y = rng.normal(size=songs.size)
    preds = [y + rng.normal(scale=0.3, size=y.size), y + rng.normal(scale=0.3, size=y.size)]
    report = m.regression_report(y, preds, songs, n_boot=100, seed=0)
    assert set(report) == {"r2", "rmse", "kendall_tau", "kendall_tau_per_song"}
    r2 = report["r2"]
    assert r2["value"] == pytest.approx(np.mean([m.r2_score(y, p) for p in preds]))
    assert r2["low"] <= r2["value"] <= r2["high"]
    assert r2["seed_sd"] == pytest.approx(np.std(r2["per_seed"], ddof=1))


def test_knn_accuracy_toy_set_hand_value() -> None:
    # Two far-apart clusters of 10; one point labelled "a" sits inside cluster "b". With k=5 every cluster
    # point has >= 5 same-label training neighbours in any fold, and the intruder's nearest five are all "b":
    # exactly one of 21 rows is wrong.
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.1, size=(10, 2)) + [10.0, 0.0]
    b = rng.normal(0.0, 0.1, size=(10, 2)) + [0.0, 10.0]
    x = np.vstack([a, b, [[0.0, 10.05]]])
    labels = np.array(["a"] * 10 + ["b"] * 10 + ["a"])
    assert m.knn_accuracy(x, labels, k=5, n_splits=5, metric="euclidean", seed=0) == pytest.approx(20 / 21)


def test_knn_needs_two_members_per_class() -> None:
    with pytest.raises(ValueError, match="two members"):
        m.knn_accuracy(np.eye(3), np.array(["a", "a", "b"]))


def test_silhouette_hand_value() -> None:
    x = np.array([[0.0], [1.0], [4.0], [5.0]])
    labels = np.array([0, 0, 1, 1])
    # s(0) = 1 - 1/4.5, s(1) = 1 - 1/3.5, symmetric for cluster 1.
    expected = ((1 - 1 / 4.5) + (1 - 1 / 3.5)) / 2
    assert m.silhouette(x, labels, metric="euclidean") == pytest.approx(expected)


def test_trustworthiness_identity_is_one_and_shuffle_is_lower() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    assert m.trustworthiness(x, x, k=5, metric="euclidean") == pytest.approx(1.0)
    assert m.trustworthiness(x, rng.permutation(x), k=5, metric="euclidean") < 0.8


def test_proportion_ci_brackets_the_share() -> None:
    correct = np.array([1] * 30 + [0] * 10)
    est = m.proportion_ci(correct, n_boot=300, seed=0)
    assert est.value == pytest.approx(0.75)
    assert est.low < 0.75 < est.high


def test_per_song_tau_bootstrap_matches_recomputation() -> None:
    # The fast path (resampling each song's own tau) must agree with recomputing tau on every replicate.
    rng = np.random.default_rng(5)
    songs = np.repeat([f"s{i}" for i in range(8)], 5)
    y = rng.normal(size=songs.size)
    pred = y + rng.normal(size=songs.size)
    fast = m.regression_report(y, [pred], songs, n_boot=200, seed=3)["kendall_tau_per_song"]
    slow = m.bootstrap_ci(songs, lambda idx, draw: m.mean_per_song_tau(y[idx], pred[idx], draw), n_boot=200, seed=3)
    assert (fast["value"], fast["low"], fast["high"]) == pytest.approx((slow.value, slow.low, slow.high))


def test_stratified_sample_is_seeded_bounded_and_keeps_genre_shares() -> None:
    labels = np.array(["rock"] * 600 + ["jazz"] * 300 + ["folk"] * 97 + ["noise"] * 3)
    a = m.stratified_sample(labels, 100, seed=4)
    assert np.array_equal(a, m.stratified_sample(labels, 100, seed=4))
    assert not np.array_equal(a, m.stratified_sample(labels, 100, seed=5))
    assert len(a) == 100 and len(np.unique(a)) == 100 and np.all(np.diff(a) > 0)
    names, counts = np.unique(labels[a], return_counts=True)
    assert dict(zip(names.tolist(), counts.tolist())) == {"rock": 60, "jazz": 30, "folk": 9, "noise": 1}
    assert np.array_equal(m.stratified_sample(labels, 5000, seed=4), np.arange(len(labels)))  # small: all rows
    tiny = m.stratified_sample(labels, 3, seed=0)  # fewer slots than labels: still bounded
    assert len(tiny) == 3


def test_sampled_trustworthiness_is_seeded_and_bounded() -> None:
    import pandas as pd

    from mixrep.evaluation.tsne import TsneSettings, run_tsne

    rng = np.random.default_rng(0)
    n = 160
    genres = np.repeat(["a", "b", "c", "d"], n // 4)
    centres = rng.normal(size=(4, 8)) * 3
    x = centres[np.repeat(np.arange(4), n // 4)] + rng.normal(size=(n, 8))
    tracks = [f"t{i:03d}" for i in range(n)]
    table = pd.DataFrame({"track_id": tracks, "variant_id": 0, "split": "test", "genre": genres,
                          "embedding": list(x.astype(np.float32))})
    features = pd.DataFrame({"track_id": tracks, "variant_id": 0,
                             **{f"spectral.mix.f{j}": x[:, j] + rng.normal(size=n) for j in range(8)}})
    recipes = pd.DataFrame({"track_id": tracks, "variant_id": 0, "fault_types": "none"})
    settings = TsneSettings(splits=("test",), perplexity=10, n_boot=20, max_points=60, max_variant_points=60)
    first, figure = run_tsne({0: table}, recipes, features, run="film-all", settings=settings, seed=3)
    again, _ = run_tsne({0: table}, recipes, features, run="film-all", settings=settings, seed=3)
    assert first["embedding"]["trustworthiness"] == again["embedding"]["trustworthiness"]
    record = first["map_sample"]
    assert record["sampled"] and record["n_points"] == n and record["n_mapped"] == 60 and "stratified" in record["method"]
    assert len(figure["ref_points"]) == 60  # the map (and trustworthiness' n × n matrix) holds the sample only
    assert first["n_tracks"] == n  # kNN accuracy and silhouette still see every point
    unsampled, _ = run_tsne({0: table}, recipes, features, run="film-all",
                            settings=TsneSettings(splits=("test",), perplexity=10, n_boot=20, max_variant_points=60),
                            seed=3)
    assert not unsampled["map_sample"]["sampled"] and unsampled["map_sample"]["n_mapped"] == n
