"""t-SNE maps and cluster metrics of one cell's embeddings, against the raw structured features.

Measured on the reference mixes (variant 0) of the tracks in `tsne.splits`: cross-validated kNN genre accuracy,
cosine silhouette of the genres, and the trustworthiness of the 2-D map. The second panel maps every variant
of those tracks, coloured by the fault type of its recipe, to show whether the space separates mixing faults.

Memory: trustworthiness builds a dense n × n distance matrix (≈ 12 GB at 21.5k reference mixes), so above
`tsne.max_points` reference mixes the map and its trustworthiness use a seeded sample of tracks stratified by
genre (mixrep.evaluation.metrics.stratified_sample; the same tracks for every seed and for the features
baseline). kNN accuracy and silhouette stay on every reference mix (scikit-learn computes both in chunks).
metrics.json `map_sample` records whether and how the map was sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.data import KEY, embedding_matrix, fault_label, feature_columns
from mixrep.evaluation.metrics import knn_predictions, proportion_ci, silhouette, stratified_sample, trustworthiness


@dataclass(frozen=True)
class TsneSettings:
    """Config `tsne` (see workflow/schemas/sections/tsne.schema.yaml)."""

    splits: tuple[str, ...] = ("val", "test")
    perplexity: float = 30.0
    k: int = 5
    folds: int = 5
    max_variant_points: int = 3000
    max_points: int = 5000
    n_boot: int = 1000
    threads: int = 1  # from the rule's threads (--threads), not from config

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TsneSettings:
        values = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        if "splits" in values:
            values["splits"] = tuple(values["splits"])
        return cls(**values)


def tsne_map(x: np.ndarray, settings: TsneSettings, seed: int) -> np.ndarray:
    """Deterministic 2-D t-SNE (PCA init, fixed random_state, cosine distances); perplexity capped by n."""
    from sklearn.manifold import TSNE

    perplexity = float(min(settings.perplexity, max(2.0, (len(x) - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine",
                n_jobs=settings.threads).fit_transform(np.asarray(x, dtype=np.float64))


def cluster_metrics(x: np.ndarray, genres: np.ndarray, settings: TsneSettings, seed: int,
                    sample: np.ndarray | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """kNN genre accuracy (with a bootstrap CI over tracks), silhouette and trustworthiness; returns the map.

    `sample`: the rows that are mapped and scored for trustworthiness (all rows when None); kNN accuracy and
    silhouette always use every row.
    """
    predicted = knn_predictions(x, genres, k=settings.k, n_splits=settings.folds, metric="cosine", seed=seed)
    accuracy = proportion_ci(predicted == genres, n_boot=settings.n_boot, seed=seed)
    mapped = x if sample is None else x[sample]
    points = tsne_map(mapped, settings, seed)
    return {
        "knn_accuracy": accuracy.as_dict(),
        "silhouette": silhouette(x, genres, metric="cosine"),
        "trustworthiness": trustworthiness(mapped, points, k=settings.k, metric="cosine"),
    }, points


def map_sample(genres: np.ndarray, max_points: int, seed: int) -> tuple[np.ndarray, dict]:
    """Rows of the reference mixes that are mapped, and the record metrics.json keeps of how they were chosen."""
    index = stratified_sample(genres, max_points, seed)
    sampled = len(index) < len(genres)
    record = {"sampled": bool(sampled), "n_points": int(len(genres)), "n_mapped": int(len(index)),
              "max_points": int(max_points),
              "method": (f"stratified by genre (each genre keeps its share, largest-remainder rounding), "
                         f"without replacement, numpy default_rng([{seed}, 0x75E])") if sampled else "all points",
              "applies_to": ["tsne map", "trustworthiness"]}
    return index, record


def standardised_features(features: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Structured features of `keys`' rows, z-scored per column (NaN -> column mean, constant columns dropped)."""
    columns = feature_columns(features)
    joined = keys[KEY].merge(features, on=KEY, how="left")
    x = np.array(joined[columns].to_numpy(np.float64), copy=True)
    x[~np.isfinite(x)] = np.nan
    keep = ~np.all(np.isnan(x), axis=0)
    x = x[:, keep]
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    sd = x.std(axis=0)
    x = x[:, sd > 0]
    if x.shape[1] == 0 or len(joined) == 0:
        raise ValueError("no usable structured feature for the reference mixes")
    return (x - x.mean(axis=0)) / x.std(axis=0)


def run_tsne(embeddings: Mapping[int, pd.DataFrame], recipes: pd.DataFrame, features: pd.DataFrame, *,
             run: str, settings: TsneSettings, seed: int) -> tuple[dict, dict[str, Any]]:
    """Metrics of every seed's embeddings and of the features; returns (metrics, data for the figure)."""
    seeds = sorted(embeddings)
    per_seed: list[dict] = []
    figure: dict[str, Any] = {}
    sample_record: dict[str, Any] = {}
    for s in seeds:
        table = embeddings[s]
        refs = table[(table["variant_id"] == 0) & table["split"].isin(settings.splits)].sort_values(KEY)
        if refs.empty:
            raise ValueError(f"{run} seed {s}: no reference mix (variant 0) in splits {list(settings.splits)}")
        genres = refs["genre"].astype(str).to_numpy()
        if s == seeds[0]:  # one sample for every seed and the baseline: the tracks of the first seed's refs
            sample, sample_record = map_sample(genres, settings.max_points, seed)
            mapped_tracks = set(refs["track_id"].astype(str).iloc[sample])
        sample = np.flatnonzero(refs["track_id"].astype(str).isin(mapped_tracks).to_numpy())
        metrics, points = cluster_metrics(embedding_matrix(refs), genres, settings, seed=s,
                                          sample=None if not sample_record["sampled"] else sample)
        per_seed.append(metrics)
        if s == seeds[0]:
            figure.update(ref_points=points, ref_genres=genres[sample], ref_keys=refs[KEY].reset_index(drop=True),
                          ref_all_genres=genres, ref_sample=sample)
            variants = _variant_sample(table[table["split"].isin(settings.splits)], settings.max_variant_points, s)
            labels = _fault_labels(variants, recipes)
            figure.update(var_points=tsne_map(embedding_matrix(variants), settings, s), var_faults=labels)
    baseline, _ = cluster_metrics(standardised_features(features, figure["ref_keys"]), figure["ref_all_genres"],
                                  settings, seed=seed, sample=figure["ref_sample"] if sample_record["sampled"] else None)
    summary = {
        "run": run, "n_seeds": len(seeds), "seeds": seeds, "splits": list(settings.splits),
        "n_tracks": int(len(figure["ref_all_genres"])), "n_genres": int(len(np.unique(figure["ref_all_genres"]))),
        "n_variant_points": int(len(figure["var_faults"])),
        "map_sample": sample_record,
        "embedding": _combine(per_seed),
        "features_baseline": _combine([baseline]),
        "settings": {"k": settings.k, "folds": settings.folds, "perplexity": settings.perplexity,
                     "metric": "cosine", "tsne_init": "pca", "max_points": settings.max_points},
        "ci": "knn_accuracy: percentile bootstrap over tracks of the cross-validated predictions "
              "(first seed); seed_sd: std across encoder seeds",
    }
    return summary, figure


def _combine(per_seed: list[dict]) -> dict[str, Any]:
    """Mean over seeds of each metric, the first seed's CI for kNN accuracy, and the across-seed spread."""
    out: dict[str, Any] = {}
    for name in ("knn_accuracy", "silhouette", "trustworthiness"):
        values = [m[name]["value"] if isinstance(m[name], dict) else m[name] for m in per_seed]
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        entry: dict[str, Any] = {"value": float(np.mean(finite)) if finite else None,
                                 "per_seed": [None if v is None or not np.isfinite(v) else float(v) for v in values],
                                 "seed_sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else None}
        if isinstance(per_seed[0][name], dict):
            entry.update(low=per_seed[0][name]["low"], high=per_seed[0][name]["high"])
        out[name] = entry
    return out


def _variant_sample(table: pd.DataFrame, max_points: int, seed: int) -> pd.DataFrame:
    """All variants of a random subset of tracks (whole tracks, so each reference keeps its degradations)."""
    tracks = np.array(sorted(table["track_id"].unique()))
    per_track = max(1, int(np.ceil(len(table) / max(len(tracks), 1))))
    keep = max(1, max_points // per_track)
    if keep < len(tracks):
        tracks = np.sort(np.random.default_rng(seed).choice(tracks, size=keep, replace=False))
    return table[table["track_id"].isin(set(tracks))].sort_values(KEY).reset_index(drop=True)


def _fault_labels(variants: pd.DataFrame, recipes: pd.DataFrame) -> np.ndarray:
    recipes = recipes.assign(track_id=recipes["track_id"].astype(str),
                             variant_id=recipes["variant_id"].astype(np.int64))
    joined = variants[KEY].merge(recipes[[*KEY, "fault_types"]], on=KEY, how="left")
    if joined["fault_types"].isna().any():
        first = joined.loc[joined["fault_types"].isna(), KEY].iloc[0].tolist()
        raise ValueError(f"recipes lack {int(joined['fault_types'].isna().sum())} embedded variant(s), e.g. {first}")
    return joined["fault_types"].map(fault_label).to_numpy()


def plot_tsne(figure: dict[str, Any], metrics: dict, path: str) -> None:
    """Two panels: reference mixes by genre, all variants by fault type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, points, labels, title in (
            (axes[0], figure["ref_points"], figure["ref_genres"], "reference mixes by genre"),
            (axes[1], figure["var_points"], figure["var_faults"], "all variants by fault type")):
        cmap = plt.get_cmap("tab20")
        for i, label in enumerate(sorted(set(labels))):
            mask = labels == label
            ax.scatter(points[mask, 0], points[mask, 1], s=12, color=cmap(i % 20), label=label, alpha=0.8)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, markerscale=1.5, loc="best", ncol=2)
    emb, base = metrics["embedding"], metrics["features_baseline"]
    fig.suptitle(f"{metrics['run']} (seed {metrics['seeds'][0]}): kNN genre acc {_fmt(emb['knn_accuracy']['value'])}"
                 f" (features {_fmt(base['knn_accuracy']['value'])}), silhouette {_fmt(emb['silhouette']['value'])},"
                 f" trustworthiness {_fmt(emb['trustworthiness']['value'])}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
