"""Paired statistics on units tables: values, unit bootstrap intervals, sign-flip permutation p, Holm.

A units table (mixrep.evaluation.evaluate, docs/evaluation.md "Units") holds, row by row, what a metric is
computed from. Two sources are compared on the SAME rows: they are paired on (seed, unit, group, item), the
bootstrap resamples UNITS (songs, tracks, arrangements: the independent things) with one draw shared by both
sources, and the permutation swaps the two sources' predictions per (seed, unit) block.

Why the arithmetic looks the way it does: a summary runs ~15 sources x 10 metrics x ~7 comparisons x 1000
resamples, so nothing here loops over resamples in Python. For the kinds `mean`, `r2` and `tau_within` a
metric over a resample is a ratio of weighted sums of per-unit statistics (`_STATS`), so all resamples are one
(n_boot x n_units) count matrix times a (n_units x k) statistics matrix. `auc` is computed for every resample
at once from the weighted Mann-Whitney count (sort once, cumulative negative weight), O(n_boot x n_rows) per
group, and permuted by ranking the (n_perm x n_rows) swapped prediction matrix.

Several seeds: `mean` and `r2` pool the rows of all seeds (equal to the mean of per-seed values when every seed
has the same rows and truths, as K-fold and retrieval give), `tau_within` averages over (seed, unit) blocks and
`auc` over (seed, group) blocks.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

METRIC_KINDS: dict[str, str] = {
    "retrieval_within": "mean",
    "retrieval_across": "mean",
    "quality_noref_r2": "r2",
    "quality_noref_tau": "tau_within",
    "quality_fullref_r2": "r2",
    "quality_fullref_tau": "tau_within",
    "probe_fault_auc": "auc",
    "probe_severity_r2": "r2",
    "style_knn": "mean",
    "content_leakage": "mean",
}
KINDS: tuple[str, ...] = ("mean", "r2", "tau_within", "auc")
PAIR_KEYS: tuple[str, ...] = ("seed", "unit", "group", "item")
# Per-unit statistics whose weighted sums give the metric (see `_ratio`).
_STATS: dict[str, tuple[str, ...]] = {"mean": ("sum_pred", "n"), "r2": ("sum_y", "sum_y2", "sse", "n"),
                                      "tau_within": ("sum_tau", "n_tau")}


class PairedDiff(NamedTuple):
    """metric(a) - metric(b) on the paired rows with its percentile interval; how many rows paired / dropped."""

    diff: float
    low: float
    high: float
    n_pairs: int
    n_dropped: int


class PairedTest(NamedTuple):
    """A paired bootstrap and a permutation test on one pairing of two sources' rows."""

    diff: float
    low: float
    high: float
    p: float
    n_pairs: int
    n_dropped: int


class ValueInterval(NamedTuple):
    """A source's own value with its unit bootstrap interval."""

    value: float
    low: float
    high: float


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown metric kind {kind!r}: expected one of {list(KINDS)}")


def kendall_tau_b(y_true: np.ndarray, y_pred: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Kendall tau-b within each block (ids 0..B-1), all blocks at once; NaN where a side is constant.

    Pairs are enumerated within blocks only (blocks are songs: a few to a few dozen rows each).
    """
    y_true, y_pred, block = np.asarray(y_true, float), np.asarray(y_pred, float), np.asarray(block, np.int64)
    n_blocks = int(block.max()) + 1 if len(block) else 0
    order = np.argsort(block, kind="stable")
    starts = np.searchsorted(block[order], np.arange(n_blocks), side="left")
    sizes = np.bincount(block, minlength=n_blocks)
    first, second, pair_block = [], [], []
    for size in np.unique(sizes[sizes >= 2]):          # blocks of one size at once: (n_blocks_of_size x size)
        blocks = np.flatnonzero(sizes == size)
        members = order[starts[blocks][:, None] + np.arange(size)[None, :]]
        i, j = np.triu_indices(int(size), k=1)
        first.append(members[:, i].ravel()), second.append(members[:, j].ravel())
        pair_block.append(np.repeat(blocks, len(i)))
    tau = np.full(n_blocks, np.nan)
    if not first:
        return tau
    i, j, pb = np.concatenate(first), np.concatenate(second), np.concatenate(pair_block)
    sx, sy = np.sign(y_true[i] - y_true[j]), np.sign(y_pred[i] - y_pred[j])
    concord = np.bincount(pb, weights=sx * sy, minlength=n_blocks)
    untied_x = np.bincount(pb, weights=(sx != 0).astype(float), minlength=n_blocks)
    untied_y = np.bincount(pb, weights=(sy != 0).astype(float), minlength=n_blocks)
    ok = (untied_x > 0) & (untied_y > 0)
    tau[ok] = concord[ok] / np.sqrt(untied_x[ok] * untied_y[ok])
    return tau


def _codes(values: np.ndarray | pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(np.asarray(values), sort=True)
    return codes.astype(np.int64)


def _combine(*codes: np.ndarray) -> np.ndarray:
    """Dense ids of the tuples of several code arrays."""
    if len(codes[0]) == 0:
        return np.zeros(0, np.int64)
    key = np.zeros(len(codes[0]), np.int64)
    for c in codes:
        key = key * (int(c.max()) + 1) + c
    return np.unique(key, return_inverse=True)[1].astype(np.int64)


@dataclass(frozen=True)
class _Rows:
    """One source's rows of one metric as arrays: what every computation here reads."""

    y_true: np.ndarray
    y_pred: np.ndarray
    unit: np.ndarray        # dense unit ids: the bootstrap's resampling unit
    block: np.ndarray       # dense (seed, unit) ids: tau blocks, permutation blocks
    auc_block: np.ndarray   # dense (seed, group) ids: what auc averages over

    @property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1 if len(self.unit) else 0

    @property
    def n_blocks(self) -> int:
        return int(self.block.max()) + 1 if len(self.block) else 0


def _rows(frame: pd.DataFrame, y_true: str = "y_true", y_pred: str = "y_pred") -> _Rows:
    seed, unit = _codes(frame["seed"].to_numpy()), _codes(frame["unit"].astype(str).to_numpy())
    group = _codes(frame["group"].astype(str).to_numpy())
    return _Rows(frame[y_true].to_numpy(float), frame[y_pred].to_numpy(float), unit, _combine(seed, unit),
                 _combine(seed, group))


def _block_stats(rows: _Rows, owner_of: np.ndarray, n_owner: int, kind: str) -> np.ndarray:
    """(n_owner x k) statistics of `_STATS[kind]` summed per owner (a unit, or a (seed, unit) block).

    `owner_of[b]` is the owner of (seed, unit) block b; tau is computed per block and summed per owner.
    """
    y_true, y_pred = rows.y_true, rows.y_pred
    owner = owner_of[rows.block]

    def add(weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=n_owner)
    if kind == "mean":
        return np.stack([add(y_pred), add(np.ones_like(y_pred))], axis=1)
    if kind == "r2":
        return np.stack([add(y_true), add(y_true ** 2), add((y_true - y_pred) ** 2), add(np.ones_like(y_true))],
                        axis=1)
    tau = kendall_tau_b(y_true, y_pred, rows.block)
    ok = np.isfinite(tau)
    block_owner = owner_of[: len(tau)]
    return np.stack([np.bincount(block_owner[ok], weights=tau[ok], minlength=n_owner),
                     np.bincount(block_owner[ok], minlength=n_owner).astype(float)], axis=1)


def _unit_of_block(rows: _Rows) -> np.ndarray:
    out = np.zeros(rows.n_blocks, np.int64)
    out[rows.block] = rows.unit
    return out


def _ratio(sums: np.ndarray, kind: str) -> np.ndarray:
    """The metric from summed statistics (last axis = `_STATS[kind]`); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "r2":
            sum_y, sum_y2, sse, n = (sums[..., c] for c in range(4))
            sst = sum_y2 - np.where(n > 0, sum_y ** 2 / np.where(n > 0, n, 1), 0.0)
            sst = np.where(sst > 1e-12 * np.maximum(sum_y2, 1e-300), sst, np.nan)
            return 1.0 - sse / sst
        return np.where(sums[..., 1] > 0, sums[..., 0] / np.where(sums[..., 1] > 0, sums[..., 1], 1), np.nan)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _weighted_auc(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann-Whitney, ties count 1/2) for each row of `weights` (n_w x n_rows); NaN if one class."""
    pos = y_true > 0.5
    order = np.argsort(y_pred, kind="stable")
    p_sorted = y_pred[order]
    new = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    starts, tie = np.flatnonzero(new), np.cumsum(new) - 1
    w = weights[:, order]
    neg_w = w * (~pos[order])
    neg_tie = np.add.reduceat(neg_w, starts, axis=1)
    credit = np.cumsum(neg_tie, axis=1) - 0.5 * neg_tie   # negatives below + half the tied ones
    pos_w = w * pos[order]
    u = (pos_w * credit[:, tie]).sum(axis=1)
    denom = pos_w.sum(axis=1) * neg_w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, u / np.where(denom > 0, denom, 1), np.nan)


def _code_auc(codes: np.ndarray, pos: np.ndarray, n_codes: int) -> np.ndarray:
    """AUC of each row of integer-coded predictions (n_rows x n; equal codes = ties) by counting, no sort."""
    n_perm = codes.shape[0]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    offset = (np.arange(n_perm, dtype=np.int64) * n_codes)[:, None]
    hist = np.bincount((offset + codes[:, ~pos]).ravel(), minlength=n_perm * n_codes).reshape(n_perm, n_codes)
    credit = np.cumsum(hist, axis=1) - 0.5 * hist
    u = np.take_along_axis(credit, codes[:, pos], axis=1).sum(axis=1)
    return u / (n_pos * n_neg)


def auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ROC AUC by ranks (ties = Mann-Whitney 1/2); NaN if only one class is present."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(_weighted_auc(y_true, y_pred, np.ones((1, len(y_true))))[0])


def _auc_index(rows: _Rows) -> list[np.ndarray]:
    order = np.argsort(rows.auc_block, kind="stable")
    bounds = np.searchsorted(rows.auc_block[order], np.arange(int(rows.auc_block.max()) + 2))
    return [order[bounds[g]:bounds[g + 1]] for g in range(len(bounds) - 1)]


def _value(rows: _Rows, kind: str) -> float:
    if len(rows.y_true) == 0:
        return float("nan")
    if kind == "auc":
        values = [auc(rows.y_true[idx], rows.y_pred[idx]) for idx in _auc_index(rows)]
        return float(_nanmean(np.asarray(values), axis=0))
    stats = _block_stats(rows, np.zeros(rows.n_blocks, np.int64), 1, kind)
    return float(_ratio(stats[0], kind))


def metric_value(rows: pd.DataFrame, kind: str) -> float:
    """The metric of `kind` over the rows (all seeds; see the module docstring); NaN if undefined.

    auc: the mean over (seed, group) blocks that hold both classes (a one-class block's AUC is NaN and left
    out); NaN when no block has both.
    """
    _check_kind(kind)
    return _value(_rows(rows), kind) if len(rows) else float("nan")


def seed_values(rows: pd.DataFrame, kind: str) -> dict[int, float]:
    """{seed: the metric over that seed's rows}: the spread over seeds a summary reports beside the interval."""
    return {int(seed): metric_value(part, kind) for seed, part in rows.groupby("seed", sort=True)}


def _counts(n_units: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot x n_units) multiplicities of a resample of units with replacement."""
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(float)


def _boot_values(rows: _Rows, kind: str, counts: np.ndarray) -> np.ndarray:
    """The metric for every resample (rows of `counts`, one column per unit id)."""
    if kind == "auc":
        per_block = [_weighted_auc(rows.y_true[idx], rows.y_pred[idx], counts[:, rows.unit[idx]])
                     for idx in _auc_index(rows)]
        return _nanmean(np.stack(per_block, axis=1), axis=1)
    stats = _block_stats(rows, _unit_of_block(rows), counts.shape[1], kind)
    return _ratio(counts @ stats, kind)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def value_interval(rows: pd.DataFrame, kind: str, n_boot: int, level: float,
                   rng: np.random.Generator) -> ValueInterval:
    """A source's own value and its percentile interval over unit resamples (all seeds of a unit kept)."""
    _check_kind(kind)
    if len(rows) == 0:
        return ValueInterval(float("nan"), float("nan"), float("nan"))
    r = _rows(rows)
    value = _value(r, kind)
    if n_boot <= 0:
        return ValueInterval(value, float("nan"), float("nan"))
    boot = _boot_values(r, kind, _counts(r.n_units, n_boot, rng))
    return ValueInterval(value, *_interval(boot, level))


def pair_rows(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The rows of a and b present in both, in the same order, and how many rows were dropped (both sides)."""
    keys = list(PAIR_KEYS)
    for name, rows in (("a", a), ("b", b)):
        if rows.duplicated(keys).any():
            raise ValueError(f"{name}: (seed, unit, group, item) is not unique: pass one metric of one source")
    ka, kb = a[keys].to_numpy(), b[keys].to_numpy()
    if len(a) == len(b) and (ka == kb).all():          # the common case: both written by the same code
        return a.reset_index(drop=True), b.reset_index(drop=True), 0
    left = a[keys + ["y_true", "y_pred"]].assign(seed=a["seed"].astype(np.int64))
    right = b[keys + ["y_true", "y_pred"]].assign(seed=b["seed"].astype(np.int64))
    merged = left.merge(right, on=keys, how="inner", suffixes=("_a", "_b"), sort=True)
    n_dropped = len(a) + len(b) - 2 * len(merged)
    pa = merged[keys].assign(y_true=merged["y_true_a"], y_pred=merged["y_pred_a"])
    pb = merged[keys].assign(y_true=merged["y_true_b"], y_pred=merged["y_pred_b"])
    return pa.reset_index(drop=True), pb.reset_index(drop=True), int(n_dropped)


def _pair(a: pd.DataFrame, b: pd.DataFrame) -> tuple[_Rows, _Rows, int]:
    pa, pb, n_dropped = pair_rows(a, b)
    ra = _rows(pa)
    rb = _Rows(pb["y_true"].to_numpy(float), pb["y_pred"].to_numpy(float), ra.unit, ra.block, ra.auc_block)
    return ra, rb, n_dropped


def _bootstrap(ra: _Rows, rb: _Rows, kind: str, n_boot: int, level: float,
               rng: np.random.Generator) -> tuple[float, float, float]:
    if len(ra.y_true) == 0:
        return float("nan"), float("nan"), float("nan")
    diff = _value(ra, kind) - _value(rb, kind)
    if n_boot <= 0:
        return diff, float("nan"), float("nan")
    counts = _counts(ra.n_units, n_boot, rng)
    return (diff, *_interval(_boot_values(ra, kind, counts) - _boot_values(rb, kind, counts), level))


def paired_bootstrap(a: pd.DataFrame, b: pd.DataFrame, kind: str, n_boot: int, level: float,
                     rng: np.random.Generator) -> PairedDiff:
    """metric(a) - metric(b) on the paired rows, with a percentile interval over resamples of units.

    One draw of units serves both sources (that is what makes it paired); a drawn unit brings all its seeds
    and rows. Unmatched rows are dropped and counted in `n_dropped`.
    """
    _check_kind(kind)
    ra, rb, n_dropped = _pair(a, b)
    return PairedDiff(*_bootstrap(ra, rb, kind, n_boot, level, rng), len(ra.y_true), n_dropped)


def _perm_diffs(ra: _Rows, rb: _Rows, kind: str, flips: np.ndarray) -> np.ndarray:
    """metric(a') - metric(b') for each row of `flips` (n_perm x n_blocks; 1 = swap that block)."""
    if kind == "auc":
        out_a, out_b = [], []
        for idx in _auc_index(ra):
            pos = ra.y_true[idx] > 0.5
            if pos.all() or not pos.any():
                continue
            # the block's predictions of both sources as ranks among themselves: equal values, equal codes
            _, inverse = np.unique(np.r_[ra.y_pred[idx], rb.y_pred[idx]], return_inverse=True)
            code_a, code_b, n_codes = inverse[: len(idx)], inverse[len(idx):], int(inverse.max()) + 1
            swap = flips[:, ra.block[idx]].astype(bool)
            out_a.append(_code_auc(np.where(swap, code_b, code_a), pos, n_codes))
            out_b.append(_code_auc(np.where(swap, code_a, code_b), pos, n_codes))
        if not out_a:
            return np.full(flips.shape[0], np.nan)
        return np.mean(np.stack(out_a, 1), axis=1) - np.mean(np.stack(out_b, 1), axis=1)
    identity = np.arange(ra.n_blocks)
    sa = _block_stats(ra, identity, ra.n_blocks, kind)
    sb = _block_stats(rb, identity, ra.n_blocks, kind)
    moved = flips @ (sb - sa)
    return _ratio(sa.sum(0) + moved, kind) - _ratio(sb.sum(0) - moved, kind)


def _permutation(ra: _Rows, rb: _Rows, kind: str, n_perm: int, rng: np.random.Generator) -> float:
    if len(ra.y_true) == 0 or n_perm <= 0:
        return float("nan")
    observed = _perm_diffs(ra, rb, kind, np.zeros((1, ra.n_blocks)))[0]
    if not np.isfinite(observed):
        return float("nan")
    flips = rng.integers(0, 2, size=(n_perm, ra.n_blocks)).astype(float)
    diffs = _perm_diffs(ra, rb, kind, flips)
    tolerance = 1e-12 * max(1.0, abs(observed))
    extreme = np.abs(diffs) >= abs(observed) - tolerance
    return float((1 + np.count_nonzero(extreme & np.isfinite(diffs))) / (1 + n_perm))


def paired_permutation(a: pd.DataFrame, b: pd.DataFrame, kind: str, n_perm: int,
                       rng: np.random.Generator) -> float:
    """Two-sided sign-flip permutation p of metric(a) - metric(b) on the paired rows.

    Each (seed, unit) block's predictions are swapped between the sources with probability 1/2 (under the null
    the labels `a`/`b` are exchangeable within a block); p = (1 + #{|perm diff| >= |observed|}) / (1 + n_perm).
    For tau_within the swap is whole (seed, unit) blocks, so the per-block taus are swapped, which is exact.
    """
    _check_kind(kind)
    ra, rb, _ = _pair(a, b)
    return _permutation(ra, rb, kind, n_perm, rng)


def paired_test(a: pd.DataFrame, b: pd.DataFrame, kind: str, n_boot: int, n_perm: int, level: float,
                rng: np.random.Generator) -> PairedTest:
    """paired_bootstrap and paired_permutation on one pairing (what the summary calls, pairing once)."""
    _check_kind(kind)
    ra, rb, n_dropped = _pair(a, b)
    diff, low, high = _bootstrap(ra, rb, kind, n_boot, level, rng)
    return PairedTest(diff, low, high, _permutation(ra, rb, kind, n_perm, rng), len(ra.y_true), n_dropped)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (monotone, capped at 1); NaN stays NaN and does not count in m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out
