"""A simulated listening test: a panel of virtual listeners rates each song's reference and degraded remixes.

Why simulated: the default corpus has no human ratings. The simulation depends only on the degradation
*recipe* (`results/variants/{shard}/recipes.parquet`: which faults, on which stems, with which parameters,
how severe) and on the reference mix's own drawn parameters (`results/corpus/metadata.parquet`, `mix.*`),
never on computed audio features. Every table and figure built from it says `simulated=True`.

Why not the recipe's severity alone (the former model): severity is the distance to the reference mix, which
a model hearing one mix cannot observe, boosts could never improve a mix, and a level change counted as a
fault although listening-test stimuli are loudness-matched. The default model ("ideal", docs/evaluation.md):

    state(mix)      = per present stem: balance b_k = gain_k - mean_j gain_j (a whole-mix level change
                      cancels), tone at 120 Hz / 3 kHz / 8 kHz (the stem's EQ plus the master tilt)
    ideal(genre)    = the same state computed from the genre prior's means (mixrep.corpus.genres)
    state(variant)  = state(reference) + what its gain / EQ / tilt faults add (parametric faults)
    D(m)            = || (state(m) - ideal) / tolerance ||        (balance_tolerance_db, tone_tolerance_db)
    R(m)            = severity(m) × Σ_{non-parametric faults} w_f / n_faults   (dynamics, filters, space)
    perceived(m)    = sqrt(D(m)² + R(m)²)

so the reference itself is weak by its drawn deviation from the genre's ideal, and a gain or EQ fault that
moves a stem toward the ideal lowers the perceived problem (scores above the reference). When the metadata
has no `mix.*` columns (real data sources) the "severity" model is used: perceived = severity × mean w_f.
Then, for the listener l:

    expected(m,l) = 100 / (1 + (h_l · perceived(m) / s50) ** slope)   (saturating: 100 at 0, 50 at s50, -> 0)
    score(m,l)    = clip(expected(m,l) + b_l + e_ml, 0, 100)

with listener harshness h_l ~ LogNormal(0, harshness_sd), bias b_l ~ N(0, bias_sd) and noise
e_ml ~ N(0, noise_sd). The table keeps the noiseless `expected_score` (h = 1, b = e = 0): the noise ceiling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixrep.ratings.table import finish_table
from mixrep.stems import STEMS

PANEL_MODELS: tuple[str, ...] = ("auto", "ideal", "severity")
PARAMETRIC_FAULTS: tuple[str, ...] = ("gain", "eq_peak", "eq_low_shelf", "eq_high_shelf", "tilt")
TONE_BANDS_HZ: dict[str, float] = {"low": 120.0, "presence": 3000.0, "high": 8000.0}  # the corpus EQ's bands
NOT_FAULTS: tuple[str, ...] = ("headroom", "none")


@dataclass(frozen=True)
class PanelSettings:
    """Parameters of the virtual listener panel (config `ratings.panel`)."""

    listeners: int = 8
    bias_sd: float = 4.0
    noise_sd: float = 6.0
    harshness_sd: float = 0.25
    half_score_severity: float = 5.0
    slope: float = 1.5
    fault_weights: Mapping[str, float] = field(default_factory=dict)
    model: str = "auto"
    balance_tolerance_db: float = 3.0
    tone_tolerance_db: float = 3.0

    @classmethod
    def from_config(cls, panel: Mapping) -> PanelSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(panel) - known
        if unknown:
            raise ValueError(f"unknown ratings.panel keys {sorted(unknown)}; expected {sorted(known)}")
        model = cls(**{**panel, "fault_weights": dict(panel.get("fault_weights") or {})})
        if model.listeners < 1 or model.half_score_severity <= 0 or model.slope <= 0:
            raise ValueError("ratings.panel needs listeners >= 1, half_score_severity > 0 and slope > 0")
        if model.model not in PANEL_MODELS:
            raise ValueError(f"ratings.panel.model must be one of {list(PANEL_MODELS)}, got {model.model!r}")
        if model.balance_tolerance_db <= 0 or model.tone_tolerance_db <= 0:
            raise ValueError("ratings.panel tolerances must be > 0 dB")
        return model

    def perceived_severity(self, severity: np.ndarray, fault_types: Sequence[str]) -> np.ndarray:
        """Severity-only model: recipe severity scaled by the mean weight of the recipe's faults (0 for `none`)."""
        weights = np.array([self._fault_weight(f) for f in fault_types], dtype=np.float64)
        return np.clip(np.asarray(severity, dtype=np.float64), 0.0, None) * weights

    def expected_score(self, perceived: np.ndarray, harshness: float = 1.0) -> np.ndarray:
        """Saturating map perceived severity -> 0..100 (log-logistic: 100 at 0, 50 at half_score_severity)."""
        ratio = np.clip(harshness * np.asarray(perceived, dtype=np.float64), 0.0, None) / self.half_score_severity
        return 100.0 / (1.0 + ratio**self.slope)

    def weight(self, fault: str) -> float:
        return float(self.fault_weights.get(fault, 1.0))

    def _fault_weight(self, fault_types: str) -> float:
        faults = [f.strip() for f in str(fault_types).split(",") if f.strip() and f.strip() not in NOT_FAULTS]
        if not faults:
            return 0.0
        return float(np.mean([self.weight(f) for f in faults]))


# ------------------------------------------------------------------ the "ideal" model: balance and tone
@dataclass(frozen=True)
class MixState:
    """What the ideal model compares: per present stem its gain (dB) and tone at the three EQ bands (dB)."""

    gain: dict[str, float]
    tone: dict[str, dict[str, float]]

    def vector(self, model: PanelSettings) -> np.ndarray:
        """Balance (gain minus the stems' mean: level-free) and tone, each divided by its tolerance."""
        stems = sorted(self.gain)
        gains = np.array([self.gain[s] for s in stems])
        balance = (gains - gains.mean()) / model.balance_tolerance_db
        tone = np.array([self.tone[s][b] for s in stems for b in TONE_BANDS_HZ]) / model.tone_tolerance_db
        return np.concatenate([balance, tone])


def _master_tilt(tilt_db: float) -> dict[str, float]:
    """The corpus master tilt (-t/2 dB shelf at 300 Hz, +t/2 dB shelf at 3 kHz) at the three bands."""
    return {"low": -tilt_db / 2.0, "presence": tilt_db / 4.0, "high": tilt_db / 2.0}  # 3 kHz: the shelf's half


def state_from_metadata(row: Mapping, stems: Sequence[str]) -> MixState:
    """The reference mix's state from its `mix.<stem>.*` metadata columns."""
    tilt = _master_tilt(float(row["mix.master.tilt_db"]))
    gain = {s: float(row[f"mix.{s}.gain_db"]) for s in stems}
    tone = {s: {"low": float(row[f"mix.{s}.low_shelf_db"]) + tilt["low"],
                "presence": float(row[f"mix.{s}.presence_db"]) + tilt["presence"],
                "high": float(row[f"mix.{s}.high_shelf_db"]) + tilt["high"]} for s in stems}
    return MixState(gain, tone)


def ideal_state(genre: str, stems: Sequence[str]) -> MixState:
    """The genre's ideal: the state of its prior's means (the centre every track's mix is drawn around)."""
    from mixrep.corpus.genres import get_genre

    prior = get_genre(genre).mix
    tilt = _master_tilt(prior.tilt_db.mean)
    gain = {s: prior.stems[s].gain_db.mean for s in stems}
    tone = {s: {"low": prior.stems[s].low_shelf_db.mean + tilt["low"],
                "presence": prior.stems[s].presence_db.mean + tilt["presence"],
                "high": prior.stems[s].high_shelf_db.mean + tilt["high"]} for s in stems}
    return MixState(gain, tone)


def _nearest_band(freq_hz: float) -> str:
    return min(TONE_BANDS_HZ, key=lambda b: abs(np.log2(freq_hz / TONE_BANDS_HZ[b])))


def apply_faults(state: MixState, effects: Sequence[Mapping], model: PanelSettings) -> MixState:
    """The state after the recipe's parametric faults (gain, EQ, tilt), each scaled by its fault weight.

    gain adds to the stem's gain; a shelf adds its gain to the low / high band; a peak adds gain × min(1,
    bandwidth/2 octaves) to the nearest band; a tilt adds db_per_octave × log2(band / pivot) to every band.
    Faults on an absent stem change nothing; stem "all" applies to every present stem.
    """
    gain = dict(state.gain)
    tone = {s: dict(t) for s, t in state.tone.items()}
    for entry in effects:
        name, params = str(entry["effect"]), dict(entry.get("params", {}))
        if name not in PARAMETRIC_FAULTS:
            continue
        targets = list(gain) if entry["stem"] == "all" else [entry["stem"]] if entry["stem"] in gain else []
        w = model.weight(name)
        for stem in targets:
            if name == "gain":
                gain[stem] += w * float(params["gain_db"])
            elif name == "eq_low_shelf":
                tone[stem]["low"] += w * float(params["gain_db"])
            elif name == "eq_high_shelf":
                tone[stem]["high"] += w * float(params["gain_db"])
            elif name == "eq_peak":
                q = float(params.get("q", 1.0))
                bandwidth_oct = 2.0 / np.log(2.0) * np.arcsinh(1.0 / (2.0 * q))
                tone[stem][_nearest_band(float(params["freq_hz"]))] += (
                    w * float(params["gain_db"]) * min(1.0, bandwidth_oct / 2.0))
            elif name == "tilt":
                slope, pivot = float(params["db_per_octave"]), float(params.get("pivot_hz", 1000.0))
                for band, hz in TONE_BANDS_HZ.items():
                    tone[stem][band] += w * slope * float(np.log2(hz / pivot))
    return MixState(gain, tone)


def residual_severity(severity: float, effects: Sequence[Mapping], model: PanelSettings) -> float:
    """The share of the recipe severity owed to faults the state does not model (dynamics, filters, space).

    The recipes table has one severity per variant, so it is split evenly over the variant's faults.
    """
    faults = [str(e["effect"]) for e in effects if str(e["effect"]) not in NOT_FAULTS]
    if not faults:
        return 0.0
    other = sum(model.weight(f) for f in faults if f not in PARAMETRIC_FAULTS)
    return max(0.0, float(severity)) * other / len(faults)


def has_mix_parameters(metadata: pd.DataFrame | None) -> bool:
    """Whether the metadata carries the reference mixes' drawn parameters (synthetic corpus)."""
    if metadata is None or "genre" not in metadata.columns:
        return False
    needed = {"mix.master.tilt_db", *(f"mix.{s}.{p}" for s in STEMS
                                      for p in ("gain_db", "low_shelf_db", "presence_db", "high_shelf_db"))}
    return needed <= set(metadata.columns)


def perceived_ideal(recipes: pd.DataFrame, metadata: pd.DataFrame, model: PanelSettings) -> np.ndarray:
    """perceived(m) = sqrt(D(m)² + R(m)²) of every recipe row (see the module docstring)."""
    meta = metadata.assign(track_id=metadata["track_id"].astype(str)).set_index("track_id")
    out = np.zeros(len(recipes))
    cache: dict[str, tuple[MixState, np.ndarray]] = {}
    for i, (track, effects_text, severity) in enumerate(zip(recipes["track_id"].astype(str), recipes["effects"],
                                                            recipes["severity"])):
        if track not in meta.index:
            raise ValueError(f"track {track!r} has recipes but no row in the corpus metadata")
        if track not in cache:
            row = meta.loc[track]
            vocals = bool(row["has_vocals"]) if "has_vocals" in meta.columns else True
            stems = [s for s in STEMS if s != "vocals" or vocals]
            cache[track] = (state_from_metadata(row, stems), ideal_state(str(row["genre"]), stems).vector(model))
        reference, ideal = cache[track]
        effects = json.loads(effects_text) if isinstance(effects_text, str) else list(effects_text)
        distance = float(np.linalg.norm(apply_faults(reference, effects, model).vector(model) - ideal))
        out[i] = np.hypot(distance, residual_severity(severity, effects, model))
    return out


def panel_kind(model: PanelSettings, metadata: pd.DataFrame | None) -> str:
    """The model actually used: "ideal" where the metadata allows it (auto), else "severity"."""
    if model.model == "severity" or (model.model == "auto" and not has_mix_parameters(metadata)):
        return "severity"
    if not has_mix_parameters(metadata):
        raise ValueError("ratings.panel.model ideal needs the corpus metadata with mix.<stem>.* columns")
    return "ideal"


# ------------------------------------------------------------------ the panel
def select_songs(manifest: pd.DataFrame, song_splits: Sequence[str]) -> pd.DataFrame:
    """Usable manifest rows whose corpus split is one of `song_splits` (default val + test: unseen by the encoder)."""
    usable = manifest[(manifest["status"] == "ok") & manifest["split"].isin(list(song_splits))]
    if usable.empty:
        raise ValueError(f"the manifest has no usable track in splits {list(song_splits)} to rate")
    return usable


def simulate_ratings(recipes: pd.DataFrame, model: PanelSettings, seed: int,
                     metadata: pd.DataFrame | None = None) -> pd.DataFrame:
    """Individual ratings (one row per listener × mix) of every recipe row, plus its noiseless `expected_score`.

    `metadata` (the corpus metadata) selects the ideal model (see `panel_kind`); the result's attrs
    ["panel"] names the model used.
    """
    needed = {"track_id", "variant_id", "fault_types", "severity"}
    kind = panel_kind(model, metadata)
    if kind == "ideal":
        needed.add("effects")
    missing = needed - set(recipes.columns)
    if missing:
        raise ValueError(f"recipes lack columns {sorted(missing)} (the degrade contract, docs/CONTRACTS.md)")
    recipes = recipes.sort_values(["track_id", "variant_id"]).reset_index(drop=True)
    if kind == "ideal":
        perceived = perceived_ideal(recipes, metadata, model)
    else:
        perceived = model.perceived_severity(recipes["severity"].to_numpy(), recipes["fault_types"].tolist())
    expected = model.expected_score(perceived)
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
            "expected_score": expected,
        }))
    out = pd.concat(frames, ignore_index=True)
    out.attrs["panel"] = kind
    return out


def synthetic_table(manifest: pd.DataFrame, recipes: pd.DataFrame, settings: Mapping, seed: int,
                    metadata: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rated-mix table of the simulated listening test (`settings`: the config's ratings section).

    `metadata` (results/corpus/metadata.parquet) enables the ideal model; without `mix.*` columns the
    severity-only model is used and the table's `panel` column says so.
    """
    songs = select_songs(manifest, settings.get("song_splits", ["val", "test"]))
    rated = recipes[recipes["track_id"].astype(str).isin(set(songs["track_id"].astype(str)))]
    if rated.empty:
        raise ValueError("no recipe belongs to a track of the rated splits: are the recipes of this manifest?")
    model = PanelSettings.from_config(settings.get("panel", {}))
    individual = simulate_ratings(rated, model, seed=seed, metadata=metadata)
    genres = _genres(songs, metadata)
    table = finish_table(individual, scale=settings.get("scale", "absolute"),
                         fractions=settings.get("split_fractions", [0.5, 0.25, 0.25]),
                         seed=seed, simulated=True, folds=int(settings.get("folds", 5)), genres=genres,
                         panel=individual.attrs["panel"])
    return table


def _genres(songs: pd.DataFrame, metadata: pd.DataFrame | None) -> dict[str, str]:
    """song (= track) -> genre, from the manifest or else the metadata; "" where unknown."""
    for table in (songs, metadata):
        if table is not None and "genre" in table.columns:
            return dict(zip(table["track_id"].astype(str), table["genre"].fillna("").astype(str)))
    return {}
