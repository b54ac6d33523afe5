"""One source (a cell or a control) measured on every metric, per seed, as a units table.

The units table (docs/evaluation.md, "Units") holds what each metric is computed from, row by row: the
ablation summary resamples and permutes those rows to compare sources on the same songs, tracks and
queries (mixrep.evaluation.stats). Every source passes through the same functions here, so a cell and its
controls differ only in the representation, never in the protocol:
- retrieval_within: the two held-out views of each test item (results/embed/.../seed{s}.views.parquet);
- retrieval_across: the same recipe on another test track (item embeddings, recipes' `recipe_id`);
- quality_*: K-fold over all rated songs, no-reference and full-reference (mixrep.evaluation.quality);
- probe_*: fault presence / severity from the frozen embedding (mixrep.evaluation.probe);
- style_knn / content_leakage: the crossed content x style set (mixrep.evaluation.crossed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixrep.evaluation.data import KEY, embedding_matrix

QUALITY_CONTROLS: tuple[str, ...] = ("is-reference", "severity")
UNIT_COLUMNS: tuple[str, ...] = ("source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred")


@dataclass(frozen=True)
class EvaluateSettings:
    """Config `evaluate` (workflow/schemas/sections/evaluate.schema.yaml)."""

    retrieval_split: str = "test"
    probe_split: str = "test"
    probe_folds: int = 5
    n_boot: int = 1000
    n_perm: int = 2000
    ci_level: float = 0.95
    alpha: float = 0.05

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> EvaluateSettings:
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown evaluate keys {sorted(unknown)}")
        return cls(**section)


@dataclass
class SourceInputs:
    """What one source is evaluated on: per seed its item embeddings and held-out views."""

    source: str
    seeds: list[int]
    embeddings: dict[int, pd.DataFrame] = field(default_factory=dict)
    views: dict[int, pd.DataFrame] = field(default_factory=dict)


def recipe_ids(recipes: pd.DataFrame) -> pd.DataFrame:
    """(track_id, variant_id, recipe_id) of the recipes table (-1 where the table has no pool ids)."""
    table = recipes.assign(track_id=recipes["track_id"].astype(str),
                           variant_id=recipes["variant_id"].astype(np.int64))
    if "recipe_id" not in table.columns:
        table = table.assign(recipe_id=-1)
    return table[[*KEY, "recipe_id"]].astype({"recipe_id": np.int64})


def retrieval_units(source: str, seed: int, embeddings: pd.DataFrame, views: pd.DataFrame,
                    recipes: pd.DataFrame, split: str) -> tuple[list[pd.DataFrame], dict]:
    """retrieval_within from the views, retrieval_across from the item embeddings of `split`."""
    from mixrep.evaluation.retrieval import across_content_units, within_content_units

    out, info = [], {}
    held = views[views["split"] == split]
    first = held[held["view"] == 0].sort_values(KEY, kind="stable")
    second = held[held["view"] == 1].sort_values(KEY, kind="stable")
    if len(first) >= 2 and np.array_equal(first[KEY].to_numpy(), second[KEY].to_numpy()):
        out.append(within_content_units(embedding_matrix(first), embedding_matrix(second),
                                        first["track_id"].to_numpy(), first["variant_id"].to_numpy(),
                                        source, seed))
    else:
        info["retrieval_within"] = f"fewer than 2 view pairs in split {split}"
    items = embeddings[embeddings["split"] == split].merge(recipe_ids(recipes), on=KEY, how="left")
    items = items.assign(recipe_id=items["recipe_id"].fillna(-1).astype(np.int64))
    if (items["recipe_id"] > 0).any():
        units, across = across_content_units(embedding_matrix(items), items["track_id"].to_numpy(),
                                             items["variant_id"].to_numpy(), items["recipe_id"].to_numpy(),
                                             source, seed)
        out.append(units)
        info["retrieval_across"] = across
    else:
        info["retrieval_across"] = "the recipes carry no pool ids (degrade.recipe_pool: 0)"
    return out, info


def evaluate_source(inputs: SourceInputs, ratings: pd.DataFrame | None, recipes: pd.DataFrame,
                    metadata: pd.DataFrame | None, regress_settings: Any, settings: EvaluateSettings
                    ) -> tuple[pd.DataFrame, dict]:
    """Units of every metric the source has, over its seeds, and a metrics dict (values per seed, notes)."""
    frames: list[pd.DataFrame] = []
    notes: dict[str, Any] = {}
    if inputs.source in QUALITY_CONTROLS:
        from mixrep.evaluation.quality import quality_control_units

        if ratings is None:
            raise ValueError(f"{inputs.source} is a quality control: it needs ratings")
        for seed in inputs.seeds:
            units = quality_control_units(ratings, recipes, regress_settings, seed)
            frames.append(units[units["source"] == inputs.source])
    else:
        from mixrep.evaluation.crossed import crossed_units
        from mixrep.evaluation.probe import probe_units
        from mixrep.evaluation.quality import quality_units

        for seed in inputs.seeds:
            embeddings = inputs.embeddings[seed]
            seed_notes: dict[str, Any] = {}
            units, info = retrieval_units(inputs.source, seed, embeddings, inputs.views[seed], recipes,
                                          settings.retrieval_split)
            frames += units
            seed_notes.update(info)
            if ratings is not None:
                units, info = quality_units(ratings, embeddings, regress_settings, inputs.source, seed)
                frames.append(units)
                seed_notes["quality"] = info
            units, info = probe_units(embeddings, recipes, inputs.source, seed, split=settings.probe_split,
                                      folds=settings.probe_folds)
            frames.append(units)
            seed_notes["probe"] = info
            if metadata is not None and (embeddings["split"] == "crossed").any():
                frames.append(crossed_units(embeddings, metadata, inputs.source, seed))
            else:
                seed_notes["crossed"] = "no crossed content x style set in this dataset"
            notes[str(seed)] = seed_notes
    units = pd.concat([f for f in frames if len(f)], ignore_index=True) if frames else pd.DataFrame()
    units = normalise_units(units, inputs.source)
    return units, {"source": inputs.source, "seeds": inputs.seeds, "values": seed_values(units),
                   "n_units": units.groupby("metric")["unit"].nunique().to_dict() if len(units) else {},
                   "notes": notes}


def normalise_units(units: pd.DataFrame, source: str) -> pd.DataFrame:
    """The contract's columns and dtypes (an empty table keeps them too)."""
    if units.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            UNIT_COLUMNS, ("string", "int64", "string", "string", "string", "string", "float64", "float64"))})
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
    if missing:
        raise ValueError(f"units of {source} lack column(s) {missing}")
    units = units[list(UNIT_COLUMNS)].copy()
    for column in ("source", "metric", "unit", "item", "group"):
        units[column] = units[column].fillna("").astype(str)
    units["seed"] = units["seed"].astype(np.int64)
    units["y_true"] = units["y_true"].astype(np.float64)
    units["y_pred"] = units["y_pred"].astype(np.float64)
    return units


def seed_values(units: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """metric -> seed -> value (mixrep.evaluation.stats.seed_values of each metric's rows)."""
    from mixrep.evaluation.stats import METRIC_KINDS, seed_values as values_per_seed

    if units.empty:
        return {}
    return {str(metric): {str(seed): (float(v) if np.isfinite(v) else None)
                          for seed, v in values_per_seed(rows, METRIC_KINDS[str(metric)]).items()}
            for metric, rows in units.groupby("metric", sort=True)}


def read_views(path: str) -> pd.DataFrame:
    """A views parquet (mixrep.pretrain.embed.write_views) with typed keys."""
    from mixrep.tables import read_table

    table = read_table(path, "views", ("track_id", "variant_id", "split", "view", "embedding"))
    return table.assign(track_id=table["track_id"].astype(str), variant_id=table["variant_id"].astype(np.int64))


def check_seeds(source: str, seeds: Sequence[int], available: Sequence[int]) -> list[int]:
    """Seeds to evaluate: all given; a seed-free control's single table serves every seed."""
    if not available:
        return list(seeds)
    missing = sorted(set(seeds) - set(available))
    if missing and len(available) != 1:
        raise ValueError(f"{source}: no embeddings for seed(s) {missing}")
    return list(seeds)
