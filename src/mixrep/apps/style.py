"""Where a mix sits among the reference mixes: nearest references, nearest styles (genres), and the per-stem
deviations from that style's norms in plain words. Pure functions on arrays and the bundle's norms."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixrep.features.columns import column_specs
from mixrep.stems import STEMS
from mixrep.transfer.distances import cosine_distance

UNITS = {spec.name: spec.unit for spec in column_specs()}
NEAREST_K = 3  # a style's distance: the mean of its NEAREST_K closest reference mixes
# (column feature, phrase, minimum difference that is worth saying): checked for every stem
DEVIATION_FEATURES: tuple[tuple[str, str, str, float], ...] = (
    ("dynamics", "rel_loudness_lu", "relative loudness", 1.0),
    ("dynamics", "crest_db", "crest factor", 1.0),
    ("spectral", "tilt_db_per_oct", "spectral tilt", 0.5),
    ("spectral", "low_high_db", "low/high energy balance", 1.5),
    ("stereo", "msr", "stereo width (side/mid ratio)", 0.05),
    ("masking", "masking", "masking index", 0.05),
)
MASKED_THRESHOLD = 0.5  # a 3-s window counts as masked when its masking index is above this


@dataclass
class Deviation:
    """One stem feature against the style norm."""

    stem: str
    column: str
    value: float
    median: float
    iqr: float
    difference: float
    unit: str
    flagged: bool
    text: str


def nearest_references(z: np.ndarray, references: pd.DataFrame, matrix: np.ndarray, k: int = 5) -> list[dict]:
    distances = cosine_distance(matrix, np.asarray(z, dtype=np.float64)[None, :])
    order = np.argsort(distances, kind="stable")[:k]
    return [{"track_id": str(references["track_id"].iloc[i]), "genre": str(references["genre"].iloc[i]),
             "distance": float(distances[i])} for i in order]


def style_ranking(z: np.ndarray, references: pd.DataFrame, matrix: np.ndarray) -> list[dict]:
    """Genres by the mean cosine distance of their NEAREST_K closest reference mixes (closest first)."""
    distances = cosine_distance(matrix, np.asarray(z, dtype=np.float64)[None, :])
    genres = references["genre"].astype(str).to_numpy()
    rows = []
    for genre in sorted(set(genres)):
        d = np.sort(distances[genres == genre])[:NEAREST_K]
        rows.append({"genre": genre, "distance": float(d.mean()), "n_references": int((genres == genre).sum())})
    return sorted(rows, key=lambda r: r["distance"])


def _words(stem: str, phrase: str, diff: float, unit: str, genre: str, median: float) -> str:
    if unit in ("dB", "LU", "dB/octave"):
        direction = "above" if diff > 0 else "below"
        return f"{stem} {abs(diff):.1f} {unit} {direction} the {genre} median {phrase} ({median:+.1f} {unit})"
    direction = "higher" if diff > 0 else "lower"
    return f"{stem} {phrase} {abs(diff):.2f} {direction} than the {genre} median ({median:.2f})"


def deviations(features: dict[str, float], norms: dict[str, Any], genre: str) -> list[Deviation]:
    """Every DEVIATION_FEATURES column of every active stem against the genre's median; `flagged` when the
    difference exceeds both the genre's IQR and the feature's minimum."""
    columns = norms["genres"][genre]["columns"]
    out = []
    for stem in STEMS:
        if features.get(f"dynamics.{stem}.active", 1.0) < 0.5:
            continue
        for family, feature, phrase, minimum in DEVIATION_FEATURES:
            column = f"{family}.{stem}.{feature}"
            norm = columns[column]
            value = float(features[column])
            diff = value - norm["median"]
            flagged = abs(diff) > max(norm["iqr"], minimum)
            unit = UNITS[column]
            out.append(Deviation(stem, column, value, norm["median"], norm["iqr"], diff, unit, flagged,
                                 _words(stem, phrase, diff, unit, genre, norm["median"])))
    return out


def masked_time(timeline: dict[str, list[float]], active: dict[str, list[float]]) -> dict[str, float]:
    """Per stem: share of its active 3-s windows whose masking index is above MASKED_THRESHOLD."""
    out = {}
    for stem in STEMS:
        masking = np.asarray(timeline[f"masking.{stem}.masking"])
        on = np.asarray(active[stem]) > 0.5
        out[stem] = float(np.mean(masking[on] > MASKED_THRESHOLD)) if on.any() else 0.0
    return out


def feature_vector(features: dict[str, float], stats: dict[str, dict[str, float]]) -> np.ndarray:
    """Standardised features (by the references' mean and std): the encoder-free style coordinates."""
    return np.array([(features[c] - s["mean"]) / s["std"] for c, s in sorted(stats.items())], dtype=np.float64)


def feature_distance(a: dict[str, float], b: dict[str, float], stats: dict[str, dict[str, float]]) -> float:
    """RMS of the standardised feature differences (0 = identical, 1 = one reference std on average)."""
    return float(np.sqrt(np.mean((feature_vector(a, stats) - feature_vector(b, stats)) ** 2)))


def as_records(items: list[Deviation]) -> list[dict]:
    return [asdict(d) for d in items]
