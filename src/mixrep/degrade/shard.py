"""The degrade stage for one shard: draw every recipe, render it once to score it and check its peak.

Per track: variant 0 (the reference remix, no effects) and variants 1..V drawn by `sample_recipe`. Each is
rendered with a `SeverityMeter` watching, which fixes the compressor/expander thresholds to dBFS and scores
the severity. Clipping is never silent: a mix peaking above `clip_threshold_dbfs` gets a headroom gain to
`headroom_target_dbfs`, appended to its effects (so `render_variant` reproduces it) and logged; audio stays
float and is never clipped. A track whose stems cannot be read is listed with its reason; the rest goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from mixrep.audio import AudioError, read_stems, write_audio
from mixrep.degrade.config import DegradeSettings
from mixrep.degrade.faults.gain import Headroom
from mixrep.degrade.recipes import ALL_STEMS, EffectSpec, Recipe, effects_to_json, sample_recipe
from mixrep.degrade.render import mix, render_chain
from mixrep.degrade.severity import SeverityMeter
from mixrep.errors import Rejected
from mixrep.stems import SAMPLE_RATE, STEMS, track_dirname
from mixrep.tables import read_table

log = logging.getLogger(__name__)

RECIPE_COLUMNS = ("track_id", "variant_id", "effects", "fault_types", "severity", "seed", "peak_dbfs",
                  "headroom_gain_db", "recipe_id")


@dataclass(frozen=True)
class VariantRow:
    """One row of recipes.parquet."""

    track_id: str
    variant_id: int
    effects: str
    fault_types: str
    severity: float
    seed: int
    peak_dbfs: float
    headroom_gain_db: float
    recipe_id: int = -1  # 0 reference, 1..P the shared pool recipe, -1 without a pool (recipes.py)


def peak_dbfs(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return float(20 * np.log10(peak)) if peak > 0 else float("-inf")


def render_track_variants(track_id: str, stems: np.ndarray, config: DegradeSettings, seed: int,
                          sample_rate: int = SAMPLE_RATE) -> Iterator[tuple[VariantRow, np.ndarray]]:
    """Every variant of one track, rendered once each: its recipe row and its stems (4, 2, N) as delivered.

    The stems yielded are what `render_variant(stems, row.effects)` gives (the headroom gain, when added, is
    applied to every stem exactly as `render_chain` applies the recipe's `all` entry), so the analyse stage
    computes features and Mels from this one render instead of rendering the recipe again.
    """
    reference = mix(stems)
    for variant_id in range(config.variants_per_track + 1):
        recipe: Recipe = sample_recipe(track_id, variant_id, config, seed)
        meter = SeverityMeter(reference, sample_rate, config.severity)
        rendered, effects = render_chain(stems, recipe.effects, sample_rate, observer=meter)
        peak = peak_dbfs(mix(rendered))
        headroom = 0.0
        if peak > config.clip_threshold_dbfs:
            headroom = round(config.headroom_target_dbfs - peak, 3)
            gain = EffectSpec(ALL_STEMS, Headroom(gain_db=headroom))
            effects = (*effects, gain)
            log.warning("%s variant %d peaks at %+.2f dBFS (> %.1f): headroom gain %+.3f dB added to the recipe",
                        track_id, variant_id, peak, config.clip_threshold_dbfs, headroom)
            for index in range(len(rendered)):
                rendered[index] = gain.effect.apply(rendered[index], sample_rate)
        row = VariantRow(track_id, variant_id, effects_to_json(effects),
                         Recipe(track_id, variant_id, recipe.seed, effects, recipe.recipe_id).fault_types,
                         round(meter.total, 4), recipe.seed, round(peak, 3), headroom, recipe.recipe_id)
        log.info("%s v%d: %-40s severity %6.2f  peak %+6.2f dBFS", track_id, variant_id,
                 row.fault_types, row.severity, peak)
        yield row, rendered


def degrade_track(track_id: str, stems: np.ndarray, config: DegradeSettings, seed: int,
                  sample_rate: int = SAMPLE_RATE, audio_dir: Path | None = None) -> list[VariantRow]:
    """All variants of one track, rendered once each; with `audio_dir`, their mixes are written as WAV."""
    rows = []
    for row, rendered in render_track_variants(track_id, stems, config, seed, sample_rate):
        if audio_dir is not None:
            write_audio(audio_dir / track_dirname(track_id) / f"variant-{row.variant_id:02d}.wav", mix(rendered),
                        sample_rate)
        rows.append(row)
    return rows


def shard_tracks(stems_index: str | Path, root: str | Path | None = None,
                 ) -> tuple[list[tuple[str, Path]], list[Rejected]]:
    """(track_id, stem folder) of every separated track of a stems index, sorted by id, and those that failed."""
    index = read_table(stems_index, "stems index", columns=("track_id", "stem_dir"), text_columns=("track_id",))
    base = Path(root) if root is not None else Path.cwd()
    rejected: list[Rejected] = []
    if "status" in index.columns:  # tracks the separation stage could not separate carry its reason on
        failed = index[index["status"].astype(str) != "ok"]
        for track_id, reason in zip(failed["track_id"].astype(str), failed.get("reason", failed["status"]).astype(str)):
            rejected.append(Rejected(track_id, f"separation failed: {reason}"))
        index = index[index["status"].astype(str) == "ok"]
    tracks = [(track_id, Path(stem_dir) if Path(stem_dir).is_absolute() else base / stem_dir)
              for track_id, stem_dir in sorted(zip(index["track_id"].astype(str), index["stem_dir"].astype(str)))]
    return tracks, rejected


def non_finite_reason(path: Path, stems: np.ndarray) -> str | None:
    """Why stems cannot be used (NaN/inf samples), or None."""
    if np.isfinite(stems).all():
        return None
    bad = [name for name, stem in zip(STEMS, stems) if not np.isfinite(stem).all()]
    return f"{path}: stems {bad} hold values that are not finite (NaN/inf)"


def recipe_table(rows: list[VariantRow]) -> pd.DataFrame:
    """recipes.parquet (docs/CONTRACTS.md) from variant rows."""
    table = pd.DataFrame([vars(row) for row in rows], columns=list(RECIPE_COLUMNS))
    return table.astype({"track_id": "string", "variant_id": "int32", "effects": "string",
                         "fault_types": "string", "severity": "float64", "seed": "int64",
                         "peak_dbfs": "float64", "headroom_gain_db": "float64", "recipe_id": "int64"})


def degrade_shard(stems_index: str | Path, config: DegradeSettings, seed: int, root: str | Path | None = None,
                  audio_dir: str | Path | None = None,
                  sample_rate: int = SAMPLE_RATE) -> tuple[pd.DataFrame, list[Rejected]]:
    """Recipes of every track of a stems index (sorted by track id) and the tracks that could not be used."""
    tracks, rejected = shard_tracks(stems_index, root)
    rows: list[VariantRow] = []
    for track_id, path in tracks:
        try:
            stems = read_stems(path)
        except AudioError as exc:
            log.error("%s: skipped, stems unreadable: %s", track_id, exc)
            rejected.append(Rejected(track_id, str(exc)))
            continue
        reason = non_finite_reason(path, stems)
        if reason:
            log.error("%s: skipped, %s", track_id, reason)
            rejected.append(Rejected(track_id, reason))
            continue
        rows += degrade_track(track_id, stems, config, seed, sample_rate,
                              Path(audio_dir) if audio_dir is not None else None)
    return recipe_table(rows), rejected
