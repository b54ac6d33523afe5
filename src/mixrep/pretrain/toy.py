"""A small synthetic stand-in corpus for tests and benchmarks of Stage 1 (no other stage needed).

Each track has four stems made of a few random partials with random envelopes (different per stem); each
variant applies a per-stem gain, a spectral tilt (one-pole low/high-shelf-like blend) and a stereo width
change, drawn from a generator seeded by (seed, track, variant). Variant 0 is untouched. Features are simple
per-stem statistics named like mixrep.features columns (`<family>.<stem>.<name>`), so the pipeline sees the
same table layout as in the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from mixrep.model.frontend import MelConfig
from mixrep.pretrain.mels import MelShard, build_mel_shard
from mixrep.stems import STEMS


@dataclass
class ToyCorpus:
    bank: MelShard
    features: pd.DataFrame
    manifest: pd.DataFrame
    stems: dict[tuple[str, int], np.ndarray]


def _track_stems(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    t = np.arange(samples) / rate
    stems = np.zeros((4, 2, samples), dtype=np.float32)
    base = {0: (200, 900), 1: (40, 120), 2: (60, 8000), 3: (150, 3000)}
    for s in range(4):
        lo, hi = base[s]
        signal = np.zeros(samples)
        for _ in range(4):
            freq = rng.uniform(lo, hi)
            rate_hz = rng.uniform(0.5, 4.0)
            env = 0.5 + 0.5 * np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 2 * np.pi))
            signal += env * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        if s == 2:  # drums: noise bursts
            bursts = (np.sin(2 * np.pi * rng.uniform(1.5, 3) * t) > 0.7).astype(float)
            signal = 0.3 * signal + bursts * rng.standard_normal(samples)
        signal *= 0.1 / (np.std(signal) + 1e-9)
        pan = rng.uniform(-0.5, 0.5)
        stems[s, 0] = signal * (1 - pan) / 2 ** 0.5
        stems[s, 1] = signal * (1 + pan) / 2 ** 0.5
    return stems


def _apply_variant(stems: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = stems.copy()
    for s in range(4):
        gain = 10 ** (rng.uniform(-9, 9) / 20)
        tilt = rng.uniform(-0.8, 0.8)
        low = lfilter([0.1], [1, -0.9], out[s], axis=-1)
        shaped = out[s] + tilt * (low - out[s]) if tilt > 0 else out[s] - tilt * (out[s] - low)
        mid, side = (shaped[0] + shaped[1]) / 2, (shaped[0] - shaped[1]) / 2
        side *= rng.uniform(0.0, 2.0)
        out[s] = gain * np.stack([mid + side, mid - side])
    return out.astype(np.float32)


def _features(stems: np.ndarray) -> dict[str, float]:
    row = {}
    for s, name in enumerate(STEMS):
        x = stems[s]
        mid, side = x.mean(axis=0), (x[0] - x[1]) / 2
        spectrum = np.abs(np.fft.rfft(mid[: 8192]))
        freqs = np.arange(len(spectrum))
        row[f"dynamics.{name}.rms_db"] = float(20 * np.log10(np.sqrt(np.mean(x ** 2)) + 1e-9))
        rms = np.sqrt(np.mean(x ** 2)) + 1e-9
        row[f"dynamics.{name}.crest_db"] = float(20 * np.log10((np.abs(x).max() + 1e-9) / rms))
        row[f"spectral.{name}.centroid_bin"] = float((freqs * spectrum).sum() / (spectrum.sum() + 1e-9))
        side_power, mid_power = np.mean(side ** 2) + 1e-12, np.mean(mid ** 2) + 1e-12
        row[f"stereo.{name}.side_mid_db"] = float(10 * np.log10(side_power / mid_power))
    total = stems.sum(axis=0)
    for s, name in enumerate(STEMS):
        others = total - stems[s]
        row[f"masking.{name}.share_db"] = float(10 * np.log10((np.mean(stems[s] ** 2) + 1e-12)
                                                                / (np.mean(others ** 2) + 1e-12)))
    return row


def make_toy_corpus(n_tracks: int = 12, n_variants: int = 4, seconds: float = 2.0, seed: int = 0,
                    splits: tuple[float, float] = (0.6, 0.2), mel_config: MelConfig | None = None,
                    keep_stems: bool = False) -> ToyCorpus:
    """Mels, features and manifest of `n_tracks` × `n_variants` synthetic items (deterministic in `seed`)."""
    config = mel_config or MelConfig()
    samples = int(seconds * config.sample_rate)
    items, rows, kept = [], [], {}
    for t in range(n_tracks):
        track_id = f"toy-{t:03d}"
        base = _track_stems(np.random.default_rng([seed, t]), samples, config.sample_rate)
        for v in range(n_variants):
            stems = base if v == 0 else _apply_variant(base, np.random.default_rng([seed, t, v]))
            items.append((track_id, v, stems))
            rows.append({"track_id": track_id, "variant_id": v, "segment": 0, **_features(stems)})
            if keep_stems:
                kept[(track_id, v)] = stems
    bank = build_mel_shard(iter(items), config, None)
    features = pd.DataFrame(rows)
    n_train = max(1, int(round(splits[0] * n_tracks)))
    n_val = max(1, int(round(splits[1] * n_tracks)))
    split = ["train"] * n_train + ["val"] * n_val + ["test"] * (n_tracks - n_train - n_val)
    manifest = pd.DataFrame({"track_id": [f"toy-{t:03d}" for t in range(n_tracks)], "split": split,
                             "genre": [("rock", "jazz", "pop")[t % 3] for t in range(n_tracks)], "status": "ok"})
    return ToyCorpus(bank, features, manifest, kept)
