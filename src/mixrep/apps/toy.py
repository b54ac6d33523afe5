"""A tiny bundle from random-weight models and generated tracks, for the tests and benchmarks/analyze.py.

Nothing here is trained: the separator and encoder have random weights and the regressor is fitted on random
numbers. It exercises every file and code path of a real bundle in seconds; what it says about a mix is
meaningless (the features and the feature distance are real measurements all the same).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mixrep.apps.bundle import build_bundle
from mixrep.features import extract_features
from mixrep.stems import SAMPLE_RATE, STEMS

TINY_SCNET = {"dims": [4, 8, 16, 32], "nfft": 1024, "hop_size": 256, "win_size": 1024, "conv_depths": [1, 1, 1],
              "num_dplayer": 2}
GENRES = {"rock": {"drums": 1.0, "width": 0.3}, "jazz": {"drums": 0.3, "width": 1.0}}


def toy_stems(seed: int, seconds: float, genre: str = "rock", rate: int = SAMPLE_RATE) -> np.ndarray:
    """(4, 2, N) float32: a vocal-like tone, a bass tone, noise-burst drums and a wide chord."""
    rng = np.random.default_rng(seed)
    style = GENRES[genre]
    t = np.arange(int(seconds * rate)) / rate
    f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
    vib = np.sin(2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 5 * t))
    vocals = 0.15 * vib * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    bass = 0.2 * np.sin(2 * np.pi * f0 / 4 * t)
    hits = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(float)
    drums = style["drums"] * 0.3 * hits * rng.standard_normal(t.size)
    chord = sum(np.sin(2 * np.pi * f0 * r * t + rng.uniform(0, 6)) for r in (1.25, 1.5, 2.0)) * 0.05
    decor = 0.05 * rng.standard_normal(t.size)
    width = style["width"] * rng.uniform(0.6, 1.4)
    gains = 10 ** (rng.uniform(-4.0, 4.0, size=(4, 1, 1)) / 20)  # each track its own balance
    stems = gains * np.stack([np.stack([vocals, vocals]), np.stack([bass, bass]), np.stack([drums, drums * 0.9]),
                      np.stack([chord + width * decor, chord - width * decor])])
    return stems.astype(np.float32)


def _encoder(path: Path, feature_rows: list[dict[str, float]]) -> None:
    from mixrep.model.checkpoint import EncoderCheckpoint, save_checkpoint
    from mixrep.model.encoder import EncoderConfig, MixEncoder

    columns = [f"stereo.{s}.msr" for s in STEMS]
    values = np.array([[row[c] for c in columns] for row in feature_rows])
    torch.manual_seed(0)
    config = EncoderConfig(n_mels=16, width=16, layers=1, heads=2, patch_frames=4, cond_hidden=8, conditioning="film")
    model = MixEncoder(config, {"stereo": len(columns)})
    meta = EncoderCheckpoint(model_class="mixrep.model.encoder.MixEncoder", model_kwargs=model.kwargs(),
                             run="film-toy", mel={"n_mels": 16}, segment_frames=256,
                             feature_columns={"stereo": columns},
                             feature_mean={"stereo": values.mean(0).tolist()},
                             feature_std={"stereo": (values.std(0) + 1e-3).tolist()})
    save_checkpoint(path, model, meta)


def build_toy_bundle(work: str | Path, tracks_per_genre: int = 3, seconds: float = 6.0) -> tuple[Path, dict]:
    """Write the artifacts of a tiny run under `work` and bundle them into `work/bundle`.

    Returns (bundle dir, {track_id: stems}) so that tests can plant cases on the reference tracks.
    """
    from mixrep.evaluation.mlp import QualityRegressor, TrainSettings, fit_mlp
    from mixrep.pretrain import load_encoder
    from mixrep.separation.scnet import SCNet

    work = Path(work)
    art = work / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save({"best_state": SCNet(**TINY_SCNET).state_dict()}, art / "checkpoint.th")  # published layout
    tracks, feature_rows, keys = {}, [], []
    for g, genre in enumerate(GENRES):
        for k in range(tracks_per_genre):
            track = f"{genre}-{k:03d}"
            stems = toy_stems(100 * g + k, seconds, genre)
            tracks[track] = (genre, stems)
            for variant, gain in ((0, 1.0), (1, 0.5)):  # variant 1 must not enter the references
                row = extract_features(stems * gain, SAMPLE_RATE)
                feature_rows.append(row)
                keys.append((track, variant))
    features = pd.DataFrame(feature_rows)
    features.insert(0, "segment", 0)
    features.insert(0, "variant_id", [v for _, v in keys])
    features.insert(0, "track_id", [t for t, _ in keys])
    features.to_parquet(art / "features.parquet", index=False)
    _encoder(art / "encoder.pt", feature_rows)
    encoder = load_encoder(art / "encoder.pt", "cpu")
    emb_rows = []
    for (track, variant), row in zip(keys, feature_rows):
        genre, stems = tracks[track]
        z = encoder.embed_stems_by_window((stems * (1.0 if variant == 0 else 0.5))[None])[0]
        emb_rows.append({"track_id": track, "variant_id": variant, "split": "train", "genre": genre,
                         "embedding": z.astype(np.float32).tolist()})
    pd.DataFrame(emb_rows).to_parquet(art / "embeddings.parquet", index=False)
    rng = np.random.default_rng(0)
    dim = encoder.embedding_dim  # already 4 stems x d
    x, y = rng.standard_normal((40, dim)), rng.standard_normal(40) + 3.0
    member = fit_mlp(x[:30], y[:30], x[30:], y[30:], TrainSettings(hidden=8, max_epochs=20, patience=5), seed=0)
    QualityRegressor({0: member}, 0, {"run": "film-toy", "simulated": True, "target": "random numbers"}).save(
        art / "regressor.pt")
    pred = member.predict(x)
    pd.DataFrame({"model": "mlp", "seed": 0, "split": ["test"] * 10 + ["train"] * 30, "score": y,
                  "predicted": pred}).to_parquet(art / "predictions.parquet", index=False)
    settings = {"run": "film-toy", "seed": 0, "features": {},
                "separation": {"checkpoint_model": TINY_SCNET, "inference": {"segment_s": 2.0, "batch_size": 2}},
                "transfer": {}}
    bundle = build_bundle(work / "bundle", separator=art / "checkpoint.th", encoder=art / "encoder.pt",
                          regressor=art / "regressor.pt", predictions=art / "predictions.parquet",
                          embeddings=art / "embeddings.parquet", features=art / "features.parquet",
                          settings=settings, code_versions={"apps": "toy"})
    return bundle, {t: s for t, (_, s) in tracks.items()}
