"""Regression (the bundle's regressor) and t-SNE end to end on generated embedding / feature tables.

The embeddings carry a planted signal (their first dimensions encode the recipe's severity, others the genre),
so a working pipeline must recover it: R² > 0.5 on the simulated ratings, genre kNN well above chance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mixrep.evaluation import load_regressor
from mixrep.evaluation.cli import regress_main, tsne_main
from mixrep.ratings import synthetic_table

from test_ratings import make_corpus

DIM = 12
FAST = {"regress": {"max_epochs": 150, "patience": 20, "n_boot": 100, "hidden": 32},
        "tsne": {"splits": ["train", "val", "test"], "perplexity": 10, "n_boot": 100, "max_variant_points": 200}}


def embed_table(manifest: pd.DataFrame, recipes: pd.DataFrame, signal: float, seed: int) -> pd.DataFrame:
    """Embed-contract table: dims 0-2 = saturating function of severity × signal, dims 3-5 = genre, rest noise."""
    rng = np.random.default_rng(seed)
    merged = recipes.merge(manifest[["track_id", "split", "genre"]], on="track_id")
    genre_code = merged["genre"].str[-1].astype(int).to_numpy()
    z = rng.normal(0.0, 1.0, size=(len(merged), DIM))
    damage = 1.0 - 1.0 / (1.0 + (merged["severity"].to_numpy() / 5.0) ** 1.5)
    z[:, :3] = signal * 3.0 * damage[:, None] + rng.normal(0, 0.3, size=(len(merged), 3))
    z[np.arange(len(merged)), 3 + genre_code] += 4.0
    return pd.DataFrame({"track_id": merged["track_id"], "variant_id": merged["variant_id"],
                         "split": merged["split"], "genre": merged["genre"],
                         "embedding": list(z.astype(np.float32))})


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    manifest, recipes = make_corpus(n_tracks=45, variants=6)
    recipes_path = root / "recipes.parquet"
    recipes.to_parquet(recipes_path)
    synthetic_table(manifest, recipes, {}, seed=0).to_parquet(root / "ratings.parquet")
    rng = np.random.default_rng(1)
    features = recipes[["track_id", "variant_id"]].copy()
    features["segment"] = 0
    features["dynamics.mix.crest_db"] = (recipes["severity"] + rng.normal(0, 1.0, len(recipes))).astype(np.float32)
    features["spectral.vocals.centroid_hz"] = rng.normal(size=len(recipes)).astype(np.float32)
    features.to_parquet(root / "features.parquet")
    for name, signal in (("film-all", 1.0), ("none", 0.6), ("random-init", 0.0)):
        (root / "embed" / name).mkdir(parents=True)
        embed_table(manifest, recipes, signal, seed=hash(name) % 1000).to_parquet(root / "embed" / name / "seed0.parquet")
    return root, recipes_path


def run_regress(root, run: str):
    out = root / "regress" / run
    out.mkdir(parents=True, exist_ok=True)
    argv = ["--run", run, "--ratings", str(root / "ratings.parquet"),
            "--embeddings", str(root / "embed" / run / "seed0.parquet"),
            "--random-embeddings", str(root / "embed" / "random-init" / "seed0.parquet"),
            "--none-embeddings", str(root / "embed" / "none" / "seed0.parquet"),
            "--features", str(root / "features.parquet"),
            "--metrics", str(out / "metrics.json"), "--scatter", str(out / "scatter.png"),
            "--predictions", str(out / "predictions.parquet"), "--regressor", str(out / "regressor.pt"),
            "--settings", json.dumps({"seed": 0, **FAST})]
    assert regress_main(argv) == 0
    return out


def test_regress_recovers_planted_severity_signal(workspace) -> None:
    root, _ = workspace
    out = run_regress(root, "film-all")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["simulated"] is True and "SIMULATED" in metrics["ratings_note"]
    models = metrics["models"]
    assert set(models) == {"mlp", "ridge_features", "mlp_random_init", "mlp_none_cell"}
    assert models["mlp"]["r2"]["value"] > 0.5
    assert models["mlp"]["r2"]["low"] <= models["mlp"]["r2"]["value"] <= models["mlp"]["r2"]["high"]
    assert models["mlp_random_init"]["r2"]["value"] < 0.2  # no signal planted in the random encoder
    assert models["mlp"]["kendall_tau"]["value"] > models["mlp_random_init"]["kendall_tau"]["value"]
    assert metrics["n_seeds"] == 1 and models["mlp"]["n_seeds"] == 1

    predictions = pd.read_parquet(out / "predictions.parquet")
    mlp_test = predictions[(predictions["model"] == "mlp") & (predictions["split"] == "test")]
    assert len(mlp_test) == metrics["splits"]["test"]["mixes"]
    # The saved regressor reproduces the predictions from the embeddings alone.
    embeddings = pd.read_parquet(root / "embed" / "film-all" / "seed0.parquet")
    keyed = mlp_test.merge(embeddings, on=["track_id", "variant_id"])
    regressor = load_regressor(out / "regressor.pt")
    again = regressor.predict(np.stack(keyed["embedding"].to_numpy()))
    assert np.allclose(again, keyed["predicted"], atol=1e-4)
    assert regressor.info["run"] == "film-all" and regressor.info["simulated"] is True
    assert (out / "scatter.png").read_bytes()[:4] == b"\x89PNG"


def test_regress_none_cell_is_its_own_baseline(workspace) -> None:
    root, _ = workspace
    metrics = json.loads((run_regress(root, "none") / "metrics.json").read_text())
    assert metrics["models"]["mlp_none_cell"]["r2"] == metrics["models"]["mlp"]["r2"]
    assert "itself" in metrics["models"]["mlp_none_cell"]["description"]


def test_tsne_metrics_and_plot(workspace) -> None:
    root, recipes_path = workspace
    out = root / "tsne" / "film-all"
    out.mkdir(parents=True)
    argv = ["--run", "film-all", "--embeddings", str(root / "embed" / "film-all" / "seed0.parquet"),
            "--recipes", str(recipes_path), "--features", str(root / "features.parquet"),
            "--metrics", str(out / "metrics.json"), "--plot", str(out / "tsne.png"),
            "--settings", json.dumps({"seed": 0, **FAST})]
    assert tsne_main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_tracks"] == 45 and metrics["n_genres"] == 3
    emb, base = metrics["embedding"], metrics["features_baseline"]
    assert emb["knn_accuracy"]["value"] > 0.9  # the genre is planted in the embedding
    assert base["knn_accuracy"]["value"] < 0.7  # ... and not in the features (chance = 1/3)
    assert emb["silhouette"]["value"] > base["silhouette"]["value"]
    assert 0.5 < emb["trustworthiness"]["value"] <= 1.0
    assert (out / "tsne.png").read_bytes()[:4] == b"\x89PNG"
