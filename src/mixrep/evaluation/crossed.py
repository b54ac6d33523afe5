"""The crossed content x mixing-style set: does the embedding group mixes by style or by the music they carry?

The crossed tracks (manifest split `crossed`, corpus ids ``syn-x<k>-<style>``) are held-out arrangements each
mixed once under EVERY genre's mixing prior, so content (`arrangement_id`, written in the idiom of
`content_genre`) and mixing style (`style_genre`) vary independently. On their reference mixes (variant 0):

- style_knn: per track, is its nearest neighbour among the OTHER arrangements' tracks mixed under the same
  prior? (chance 1/n_styles). Style recognised across content.
- content_leakage: per track, is its nearest neighbour among all other crossed tracks one of its own
  arrangement? (chance (n_styles - 1)/(n - 1)). Content that the space still encodes.
- the mean cosine distance of same-style/other-content pairs over same-content/other-style pairs (< 1: the
  space is organised by style more than by content), and the distance between two priors' clusters (the
  seed's rock-metal proximity as a number: the cosine distance of their centroids and its rank among all
  prior pairs, 1 = the closest pair).

Neighbours are by cosine similarity. Ties (exactly equal similarities, as planted or collapsed embeddings
give) count fractionally: the expected hit rate of a uniformly random tie-break, so a space that carries no
style information scores chance, not whatever the row order happens to favour.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.data import embedding_matrix

CROSSED_SPLIT = "crossed"
META_COLUMNS: tuple[str, ...] = ("track_id", "content_genre", "style_genre", "arrangement_id")
UNIT_COLUMNS: tuple[str, ...] = ("source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred")
TIE_TOLERANCE = 1e-6  # cosine similarities this close are one tie (float32 embeddings)
PRIOR_PAIR = ("rock", "metal")


@dataclass(frozen=True)
class CrossedSet:
    """The crossed tracks' reference mixes, sorted by track id, with unit-norm embeddings (a zero row stays 0)."""

    track_ids: np.ndarray
    styles: np.ndarray
    arrangements: np.ndarray
    contents: np.ndarray
    x: np.ndarray

    def __len__(self) -> int:
        return int(self.track_ids.size)

    def similarity(self) -> np.ndarray:
        return self.x @ self.x.T


def crossed_set(embeddings: pd.DataFrame, metadata: pd.DataFrame) -> CrossedSet:
    """Variant-0 rows of split `crossed` joined to the corpus metadata's labels (every one must have them)."""
    missing = [c for c in META_COLUMNS if c not in metadata.columns]
    if missing:
        raise ValueError(f"corpus metadata lacks the columns {missing} (a corpus made before the crossed set)")
    rows = embeddings[(embeddings["variant_id"].astype(int) == 0)
                      & (embeddings["split"].astype(str) == CROSSED_SPLIT)].copy()
    rows["track_id"] = rows["track_id"].astype(str)
    if rows["track_id"].duplicated().any():
        raise ValueError("the embedding table holds a crossed track's reference twice")
    labels = metadata[list(META_COLUMNS)].astype(str)
    merged = rows.merge(labels, on="track_id", how="left", validate="one_to_one")
    unlabelled = merged.loc[merged["arrangement_id"].isna(), "track_id"].tolist()
    if unlabelled:
        raise ValueError(f"crossed tracks missing from the corpus metadata: {unlabelled[:5]}")
    merged = merged.sort_values("track_id").reset_index(drop=True)
    x = embedding_matrix(merged).astype(np.float64) if len(merged) else np.zeros((0, 0))
    norms = np.linalg.norm(x, axis=1, keepdims=True) if len(merged) else np.zeros((0, 1))
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return CrossedSet(merged["track_id"].to_numpy(str), merged["style_genre"].to_numpy(str),
                      merged["arrangement_id"].to_numpy(str), merged["content_genre"].to_numpy(str), x)


def crossed_design(metadata: pd.DataFrame) -> pd.DataFrame:
    """Tracks per (arrangement_id, style_genre) of the crossed tracks (arrangement_id != track_id): all 1 when
    every held-out arrangement was mixed under every prior exactly once."""
    crossed = metadata[metadata["arrangement_id"].astype(str) != metadata["track_id"].astype(str)]
    return pd.crosstab(crossed["arrangement_id"].astype(str), crossed["style_genre"].astype(str))


def knn_hit(similarity: np.ndarray, candidates: np.ndarray, hits: np.ndarray, k: int = 1,
            tol: float = TIE_TOLERANCE) -> float:
    """Expected fraction of hits among the k most similar candidates under a random tie-break (NaN if none)."""
    s, h = similarity[candidates], hits[candidates].astype(np.float64)
    if s.size == 0:
        return float("nan")
    k = min(int(k), s.size)
    kth = np.sort(s)[::-1][k - 1]
    better = s > kth + tol
    tied = np.abs(s - kth) <= tol
    return float((h[better].sum() + (k - better.sum()) * h[tied].mean()) / k)


def _hits(data: CrossedSet, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per track: style_knn (other arrangements only) and content_leakage (all other crossed tracks)."""
    sim = data.similarity()
    n = len(data)
    style, leak = np.empty(n), np.empty(n)
    for i in range(n):
        others = np.arange(n) != i
        style[i] = knn_hit(sim[i], others & (data.arrangements != data.arrangements[i]),
                           data.styles == data.styles[i], k)
        leak[i] = knn_hit(sim[i], others, data.arrangements == data.arrangements[i], k)
    return style, leak


def _empty_units() -> pd.DataFrame:
    dtypes = (object, np.int64, object, object, object, object, np.float64, np.float64)
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(UNIT_COLUMNS, dtypes)})


def crossed_units(embeddings: pd.DataFrame, metadata: pd.DataFrame, source: str, seed: int,
                  k: int = 1) -> pd.DataFrame:
    """style_knn and content_leakage rows (metric kind "mean"): unit = arrangement_id, item = track_id."""
    data = crossed_set(embeddings, metadata)
    if len(data) < 2:
        return _empty_units()
    style, leak = _hits(data, k)
    frames = []
    for metric, values in (("style_knn", style), ("content_leakage", leak)):
        keep = np.isfinite(values)  # a track with no other arrangement has no style neighbour
        n = int(keep.sum())
        frames.append(pd.DataFrame({
            "source": pd.Series([source] * n, dtype=object), "seed": np.full(n, seed, dtype=np.int64),
            "metric": [metric] * n, "unit": data.arrangements[keep], "item": data.track_ids[keep],
            "group": [""] * n, "y_true": np.ones(n), "y_pred": values[keep],
        }, columns=list(UNIT_COLUMNS)))
    return pd.concat(frames, ignore_index=True)


def _mean_distance(sim: np.ndarray, mask: np.ndarray) -> float:
    upper = np.triu(mask, k=1)
    return float(np.mean(1.0 - sim[upper])) if upper.any() else float("nan")


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(1.0 - a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def prior_distances(data: CrossedSet) -> dict[tuple[str, str], float]:
    """Cosine distance between the centroids (of unit-norm embeddings) of every pair of priors, pairs sorted."""
    styles = sorted(set(data.styles))
    centroids = {s: data.x[data.styles == s].mean(axis=0) for s in styles}
    return {(a, b): _cosine_distance(centroids[a], centroids[b]) for a, b in combinations(styles, 2)}


def crossed_report(embeddings: pd.DataFrame, metadata: pd.DataFrame, k: int = 1,
                   pair: tuple[str, str] = PRIOR_PAIR) -> dict[str, Any]:
    """The crossed-set numbers of one embedding table (metrics.json-ready: floats, ints, None)."""
    data = crossed_set(embeddings, metadata)
    n, styles, arrangements = len(data), sorted(set(data.styles)), sorted(set(data.arrangements))
    counts = pd.crosstab(data.arrangements, data.styles) if n else pd.DataFrame()
    report: dict[str, Any] = {"n_tracks": n, "n_arrangements": len(arrangements), "n_styles": len(styles),
                              "complete": bool(n and (counts.to_numpy() == 1).all()), "k": int(k)}
    if n < 2:
        return report
    style, leak = _hits(data, k)
    same_style = data.styles[:, None] == data.styles[None, :]
    same_content = data.arrangements[:, None] == data.arrangements[None, :]
    style_chance = [np.mean(same_style[i][~same_content[i]]) if (~same_content[i]).any() else np.nan
                    for i in range(n)]
    leak_chance = [(same_content[i].sum() - 1) / (n - 1) for i in range(n)]
    sim = data.similarity()
    d_style = _mean_distance(sim, same_style & ~same_content)
    d_content = _mean_distance(sim, same_content & ~same_style)
    report.update({
        "style_knn": float(np.nanmean(style)) if np.isfinite(style).any() else None,
        "style_knn_chance": float(np.nanmean(style_chance)) if np.isfinite(style_chance).any() else None,
        "content_leakage": float(np.mean(leak)),
        "content_leakage_chance": float(np.mean(leak_chance)),
        "distance_same_style_other_content": d_style,
        "distance_same_content_other_style": d_content,
        "distance_other_style_other_content": _mean_distance(sim, ~same_style & ~same_content),
        "distance_ratio_style_over_content": d_style / d_content if d_content > 0 else None,
    })
    distances = prior_distances(data)
    key = tuple(sorted(pair))
    report["prior_pairs"] = len(distances)
    if key in distances and np.isfinite(distances[key]):
        ordered = sorted(v for v in distances.values() if np.isfinite(v))
        report[f"{pair[0]}_{pair[1]}_distance"] = distances[key]
        report[f"{pair[0]}_{pair[1]}_rank"] = 1 + sum(v < distances[key] for v in ordered)  # 1 = closest pair
        report["prior_distance_median"] = float(np.median(ordered))
    else:
        report[f"{pair[0]}_{pair[1]}_distance"] = None
        report[f"{pair[0]}_{pair[1]}_rank"] = None
    return {name: (None if isinstance(v, float) and not np.isfinite(v) else v) for name, v in report.items()}


def plot_crossed(embeddings: pd.DataFrame, metadata: pd.DataFrame, path: str | Path, title: str,
                 seed: int = 0) -> Path:
    """t-SNE of the crossed reference mixes: coloured by mixing prior (left) and by arrangement (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    data = crossed_set(embeddings, metadata)
    if len(data) < 4:
        raise ValueError(f"a t-SNE of the crossed set needs >= 4 tracks, got {len(data)}")
    perplexity = float(min(5.0, max(1.0, (len(data) - 1) / 3.0)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine",
              n_jobs=1).fit_transform(data.x)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    markers = "osD^vP*Xh<>"
    arrangements = sorted(set(data.arrangements))
    for ax, labels, name in ((axes[0], data.styles, "mixing prior (style_genre)"),
                             (axes[1], data.arrangements, "arrangement (content)")):
        for c, label in enumerate(sorted(set(labels))):
            at = labels == label
            legend = label
            if labels is data.arrangements:
                legend = f"{label} ({data.contents[at][0]})"
            for a, arrangement in enumerate(arrangements):
                here = at & (data.arrangements == arrangement)
                if here.any():
                    ax.scatter(xy[here, 0], xy[here, 1], color=plt.cm.tab10(c % 10), marker=markers[a % len(markers)],
                               s=46, label=legend, edgecolors="k", linewidths=0.4)
                    legend = None
        ax.set_title(f"coloured by {name}")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="best", frameon=False)
    fig.suptitle(f"{title} — crossed set ({len(data)} reference mixes; marker = arrangement)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
