"""A simulated listening test: a panel of virtual listeners rates each song's reference and degraded remixes.

Why simulated: the default corpus has no human ratings. The simulation depends only on the degradation
*recipe* (which faults, how severe: `results/variants/{shard}/recipes.parquet`), never on computed audio
features, so a regressor cannot score well by re-deriving the simulator from the features it was given.
Every table and figure built from it says `simulated=True`.

Model (documented in docs/evaluation.md). For the mix m of a song and listener l:

    perceived(m)  = severity(m) × mean_{f in faults(m)} w_f          (w_f: per-fault sensitivity, default 1)
    expected(m,l) = 100 / (1 + (h_l · perceived(m) / s50) ** slope)   (saturating: 100 at 0, 50 at s50, -> 0)
    score(m,l)    = clip(expected(m,l) + b_l + e_ml, 0, 100)

with listener harshness h_l ~ LogNormal(0, harshness_sd), bias b_l ~ N(0, bias_sd) and noise
e_ml ~ N(0, noise_sd). The reference (variant 0, no fault) has perceived severity 0: a hidden reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixrep.ratings.table import finish_table


@dataclass(frozen=True)
class PanelModel:
    """Parameters of the virtual listener panel (config `ratings.panel`)."""

    listeners: int = 8
    bias_sd: float = 4.0
    noise_sd: float = 6.0
    harshness_sd: float = 0.25
    half_score_severity: float = 5.0
    slope: float = 1.5
    fault_weights: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, panel: Mapping) -> PanelModel:
        known = set(cls.__dataclass_fields__)
        unknown = set(panel) - known
        if unknown:
            raise ValueError(f"unknown ratings.panel keys {sorted(unknown)}; expected {sorted(known)}")
        model = cls(**{**panel, "fault_weights": dict(panel.get("fault_weights") or {})})
        if model.listeners < 1 or model.half_score_severity <= 0 or model.slope <= 0:
            raise ValueError("ratings.panel needs listeners >= 1, half_score_severity > 0 and slope > 0")
        return model

    def perceived_severity(self, severity: np.ndarray, fault_types: Sequence[str]) -> np.ndarray:
        """Recipe severity scaled by the mean sensitivity weight of the recipe's faults (0 for `none`)."""
        weights = np.array([self._fault_weight(f) for f in fault_types], dtype=np.float64)
        return np.clip(np.asarray(severity, dtype=np.float64), 0.0, None) * weights

    def expected_score(self, perceived: np.ndarray, harshness: float = 1.0) -> np.ndarray:
        """Saturating map perceived severity -> 0..100 (log-logistic: 100 at 0, 50 at half_score_severity)."""
        ratio = np.clip(harshness * np.asarray(perceived, dtype=np.float64), 0.0, None) / self.half_score_severity
        return 100.0 / (1.0 + ratio**self.slope)

    def _fault_weight(self, fault_types: str) -> float:
        faults = [f.strip() for f in str(fault_types).split(",") if f.strip() and f.strip() != "none"]
        if not faults:
            return 0.0
        return float(np.mean([self.fault_weights.get(f, 1.0) for f in faults]))


def select_songs(manifest: pd.DataFrame, song_splits: Sequence[str]) -> pd.DataFrame:
    """Usable manifest rows whose corpus split is one of `song_splits` (default val + test: unseen by the encoder)."""
    usable = manifest[(manifest["status"] == "ok") & manifest["split"].isin(list(song_splits))]
    if usable.empty:
        raise ValueError(f"the manifest has no usable track in splits {list(song_splits)} to rate")
    return usable


def simulate_ratings(recipes: pd.DataFrame, model: PanelModel, seed: int) -> pd.DataFrame:
    """Individual ratings (one row per listener × mix) of every recipe row; see the module docstring."""
    needed = {"track_id", "variant_id", "fault_types", "severity"}
    missing = needed - set(recipes.columns)
    if missing:
        raise ValueError(f"recipes lack columns {sorted(missing)} (the degrade contract, docs/CONTRACTS.md)")
    recipes = recipes.sort_values(["track_id", "variant_id"]).reset_index(drop=True)
    perceived = model.perceived_severity(recipes["severity"].to_numpy(), recipes["fault_types"].tolist())
    rng = np.random.default_rng(seed)
    harshness = rng.lognormal(0.0, model.harshness_sd, size=model.listeners)
    bias = rng.normal(0.0, model.bias_sd, size=model.listeners)
    noise = rng.normal(0.0, model.noise_sd, size=(model.listeners, len(recipes)))
    frames = []
    for listener in range(model.listeners):
        score = model.expected_score(perceived, harshness[listener]) + bias[listener] + noise[listener]
        frames.append(pd.DataFrame({
            "mix_id": [f"{t}:{v}" for t, v in zip(recipes["track_id"], recipes["variant_id"])],
            "song_id": recipes["track_id"].astype(str),
            "track_id": recipes["track_id"].astype(str),
            "variant_id": recipes["variant_id"].astype(np.int64),
            "rater_id": f"sim-{listener:02d}",
            "score": np.clip(score, 0.0, 100.0),
        }))
    return pd.concat(frames, ignore_index=True)


def synthetic_table(manifest: pd.DataFrame, recipes: pd.DataFrame, settings: Mapping, seed: int) -> pd.DataFrame:
    """The rated-mix table of the simulated listening test (`settings`: the config's ratings section)."""
    songs = select_songs(manifest, settings.get("song_splits", ["val", "test"]))
    rated = recipes[recipes["track_id"].astype(str).isin(set(songs["track_id"].astype(str)))]
    if rated.empty:
        raise ValueError("no recipe belongs to a track of the rated splits: are the recipes of this manifest?")
    model = PanelModel.from_settings(settings.get("panel", {}))
    individual = simulate_ratings(rated, model, seed=seed)
    return finish_table(individual, scale=settings.get("scale", "absolute"),
                        fractions=settings.get("split_fractions", [0.5, 0.25, 0.25]),
                        seed=seed, simulated=True)
