"""mixrep.evaluation.stats on hand-computed and planted cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau
from sklearn.metrics import r2_score, roc_auc_score

from mixrep.evaluation import stats
from mixrep.evaluation.stats import (METRIC_KINDS, auc, holm, metric_value, paired_bootstrap, paired_permutation,
                                     paired_test, seed_values, value_interval)


def frame(y_pred, y_true=None, units=None, seeds=None, groups=None, items=None) -> pd.DataFrame:
    n = len(y_pred)
    return pd.DataFrame({
        "source": "s", "metric": "m",
        "seed": np.zeros(n, np.int64) if seeds is None else np.asarray(seeds, np.int64),
        "unit": [f"u{i}" for i in range(n)] if units is None else list(units),
        "item": [f"i{i}" for i in range(n)] if items is None else list(items),
        "group": [""] * n if groups is None else list(groups),
        "y_true": np.ones(n) if y_true is None else np.asarray(y_true, float),
        "y_pred": np.asarray(y_pred, float)})


def random_rows(rng: np.random.Generator, n_units: int = 12, per: int = 7, seeds: int = 2,
                binary: bool = False, groups: int = 1) -> pd.DataFrame:
    parts = []
    for seed in range(seeds):
        n = n_units * per
        y_true = rng.normal(size=n)
        y_true = (y_true > 0).astype(float) if binary else np.round(y_true, 1)   # ties on purpose
        y_pred = np.round(y_true + rng.normal(size=n), 1)
        parts.append(frame(y_pred, y_true, units=np.repeat([f"u{u}" for u in range(n_units)], per),
                           seeds=np.full(n, seed), groups=[f"g{i % groups}" for i in range(n)],
                           items=[f"i{i}" for i in range(n)]))
    return pd.concat(parts, ignore_index=True)


def test_metric_kinds_cover_the_contract() -> None:
    assert METRIC_KINDS == {
        "retrieval_within": "mean", "retrieval_across": "mean", "quality_noref_r2": "r2",
        "quality_noref_tau": "tau_within", "quality_fullref_r2": "r2", "quality_fullref_tau": "tau_within",
        "probe_fault_auc": "auc", "probe_severity_r2": "r2", "style_knn": "mean", "content_leakage": "mean"}


def test_holm_on_a_known_vector() -> None:
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    out = holm([np.nan, 0.01, 0.6])        # m = 2: NaN not counted
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.02, 0.6])   # 0.01 * 2, then max(0.02, 0.6 * 1)
    assert np.all(np.isnan(holm([np.nan])))


def test_holm_caps_at_one() -> None:
    np.testing.assert_allclose(holm([0.5, 0.6, 0.7]), [1.0, 1.0, 1.0])


def test_mean_and_r2_match_hand_and_sklearn() -> None:
    assert metric_value(frame([1, 0, 1, 1]), "mean") == pytest.approx(0.75)
    rng = np.random.default_rng(1)
    rows = random_rows(rng)
    assert metric_value(rows, "r2") == pytest.approx(r2_score(rows["y_true"], rows["y_pred"]))


def test_tau_within_matches_scipy_with_ties() -> None:
    rows = random_rows(np.random.default_rng(2))
    expected = [kendalltau(g["y_true"], g["y_pred"]).statistic for _, g in rows.groupby(["seed", "unit"])]
    assert metric_value(rows, "tau_within") == pytest.approx(np.nanmean(expected))
    # a unit with a constant prediction has no tau and is left out
    rows.loc[rows["unit"] == "u0", "y_pred"] = 1.0
    expected = [kendalltau(g["y_true"], g["y_pred"]).statistic for _, g in rows.groupby(["seed", "unit"])]
    assert np.isnan(expected).sum() == 2
    assert metric_value(rows, "tau_within") == pytest.approx(np.nanmean(expected))


def test_auc_matches_sklearn_per_group_with_ties() -> None:
    rows = random_rows(np.random.default_rng(3), binary=True, groups=3)
    expected = [roc_auc_score(g["y_true"], g["y_pred"]) for _, g in rows.groupby(["seed", "group"])]
    assert metric_value(rows, "auc") == pytest.approx(np.mean(expected))
    assert auc([1, 0, 1, 0], [0.9, 0.1, 0.5, 0.5]) == pytest.approx(0.875)   # (1 + 1 + 1 + 0.5) / 4
    assert np.isnan(auc([1, 1], [0.2, 0.3]))


@pytest.mark.parametrize("kind", ["mean", "r2", "tau_within", "auc"])
def test_a_resample_equals_the_metric_on_the_duplicated_units(kind: str) -> None:
    """What the count-matrix arithmetic claims: a resample's metric is the metric of the rows it draws."""
    rng = np.random.default_rng(4)
    rows = random_rows(rng, binary=kind == "auc", groups=2 if kind == "auc" else 1)
    r = stats._rows(rows)
    counts = np.array([rng.multinomial(r.n_units, np.full(r.n_units, 1 / r.n_units)) for _ in range(3)], float)
    values = stats._boot_values(r, kind, counts)
    names = np.array(sorted(rows["unit"].unique()))
    for b in range(3):
        copies = []
        for u, k in zip(names, counts[b].astype(int)):
            for c in range(k):          # a duplicated unit is another unit for tau (its own block)
                copies.append(rows[rows["unit"] == u].assign(unit=f"{u}#{c}"))
        assert values[b] == pytest.approx(metric_value(pd.concat(copies, ignore_index=True), kind))


def test_permutation_p_equals_the_enumerated_distribution() -> None:
    # per-unit differences (3, 1, 2): sign flips give sums +-6, +-4, +-2, 0, 0; |sum| >= 6 in 2 of 8
    a, b = frame([3.0, 1.0, 2.0]), frame([0.0, 0.0, 0.0])
    diffs = [abs(np.dot(s, [3, 1, 2])) / 3 for s in itertools.product([1, -1], repeat=3)]
    exact = np.mean([d >= 2 - 1e-12 for d in diffs])
    assert exact == 0.25
    n_perm = 40000
    p = paired_permutation(a, b, "mean", n_perm, np.random.default_rng(5))
    assert p == pytest.approx(exact, abs=0.01)
    # (1, 1, 0): |sum| >= 2 in 4 of 8
    p = paired_permutation(frame([1.0, 1.0, 0.0]), frame([0.0, 0.0, 0.0]), "mean", n_perm, np.random.default_rng(6))
    assert p == pytest.approx(0.5, abs=0.01)


def test_permutation_of_identical_sources_is_one() -> None:
    rows = random_rows(np.random.default_rng(7))
    for kind in ("mean", "r2", "tau_within"):
        assert paired_permutation(rows, rows, kind, 200, np.random.default_rng(0)) == 1.0


def test_bootstrap_finds_a_planted_shift() -> None:
    rng = np.random.default_rng(8)
    b = random_rows(rng, n_units=40, per=5, seeds=3)
    a = b.copy()
    a["y_pred"] = b["y_pred"] + 0.3 + rng.normal(scale=0.5, size=len(b))
    result = paired_bootstrap(a, b, "mean", 2000, 0.95, np.random.default_rng(9))
    assert result.n_dropped == 0 and result.n_pairs == len(b)
    assert result.low > 0 and result.low < 0.3 < result.high
    assert result.diff == pytest.approx(a["y_pred"].mean() - b["y_pred"].mean())
    assert paired_permutation(a, b, "mean", 999, np.random.default_rng(10)) == pytest.approx(1 / 1000)
    same = paired_bootstrap(b, b, "r2", 200, 0.95, np.random.default_rng(0))
    assert (same.diff, same.low, same.high) == (0.0, 0.0, 0.0)


def test_bootstrap_finds_a_planted_r2_and_auc_gain() -> None:
    rng = np.random.default_rng(11)
    b = random_rows(rng, n_units=40, per=6, seeds=2, binary=True, groups=2)
    good = b.copy()
    good["y_pred"] = b["y_true"] * 2.0 + rng.normal(scale=0.5, size=len(b))
    test = paired_test(good, b, "auc", 500, 500, 0.95, np.random.default_rng(12))
    assert test.low > 0 and test.p < 0.01
    noisy = good.copy()
    noisy["y_pred"] = good["y_true"] + rng.normal(scale=0.2, size=len(b))
    test = paired_test(noisy, b, "r2", 500, 500, 0.95, np.random.default_rng(13))
    assert test.low > 0 and test.p < 0.01


def test_pairing_drops_unmatched_rows_and_counts_them() -> None:
    rng = np.random.default_rng(14)
    a = random_rows(rng)
    b = a.copy()
    b["y_pred"] = b["y_pred"] + 1.0
    b = pd.concat([b.iloc[2:], frame([5.0], items=["extra"])], ignore_index=True)   # 2 missing, 1 extra
    result = paired_bootstrap(a, b, "mean", 100, 0.95, np.random.default_rng(0))
    assert result.n_dropped == 3 and result.n_pairs == len(a) - 2
    assert result.diff == pytest.approx(-1.0)
    shuffled = b.sample(frac=1.0, random_state=0)       # pairing is by key, not by order
    assert paired_bootstrap(a, shuffled, "mean", 0, 0.95, np.random.default_rng(0)).diff == pytest.approx(-1.0)


def test_duplicated_keys_are_refused() -> None:
    rows = frame([1.0, 0.0], items=["x", "x"], units=["u", "u"])
    with pytest.raises(ValueError, match="not unique"):
        paired_bootstrap(rows, rows, "mean", 10, 0.95, np.random.default_rng(0))


def test_value_interval_and_seed_values() -> None:
    rows = pd.concat([frame([1.0, 0.0, 1.0, 1.0], seeds=[0] * 4), frame([0.0, 0.0, 1.0, 1.0], seeds=[1] * 4)],
                     ignore_index=True)
    assert seed_values(rows, "mean") == {0: 0.75, 1: 0.5}
    value = value_interval(rows, "mean", 500, 0.95, np.random.default_rng(0))
    assert value.value == pytest.approx(0.625)
    assert 0.0 <= value.low <= value.value <= value.high <= 1.0
    constant = frame([1.0] * 6)
    assert value_interval(constant, "mean", 100, 0.95, np.random.default_rng(0)) == (1.0, 1.0, 1.0)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric kind"):
        metric_value(frame([1.0]), "median")
