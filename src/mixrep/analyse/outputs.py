"""Writing a shard's analysis: the same files (and formats) the degrade, features and mels stages wrote,
plus the per-segment features table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixrep.analyse.shard import ShardAnalysis
from mixrep.degrade.shard import recipe_table
from mixrep.errors import Rejected
from mixrep.features.extract import undefined_columns
from mixrep.features.table import build_table, check_table, write_table
from mixrep.pretrain.mels import mel_shard_from_items
from mixrep.pretrain.config import PretrainSettings

#: columns of the per-segment table between the key columns and the features
SEGMENT_COLUMNS = ("frame_start", "sample_start", "sample_stop")


def segment_table(analysis: ShardAnalysis) -> pa.Table:
    """track_id, variant_id, segment, frame_start, sample_start, sample_stop, then every feature column.

    NaN marks a feature its window is too short for (mixrep.features.extract.undefined_columns).
    """
    undefined = undefined_columns(0, 1.0)  # the columns a short window can leave undefined
    features = build_table(analysis.segment_keys, analysis.segment_rows, undefined=undefined)
    order = sorted(range(len(analysis.segment_keys)), key=lambda i: analysis.segment_keys[i])
    for j, name in enumerate(SEGMENT_COLUMNS):
        values = pa.array([analysis.segment_frames[i][j] for i in order], pa.int64())
        features = features.add_column(3 + j, name, values)
    return features


def write_rejected(path: str | Path, rejected: list[Rejected]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([vars(r) for r in rejected], columns=["track_id", "reason"]).to_csv(path, index=False)
    return path


def write_analysis(analysis: ShardAnalysis, pretrain: PretrainSettings, *, recipes: str | Path,
                   rejected: str | Path, features: str | Path, features_rejected: str | Path,
                   segments: str | Path, mels: str | Path) -> None:
    """Every output of one shard (paths of docs/CONTRACTS.md)."""
    recipes = Path(recipes)
    recipes.parent.mkdir(parents=True, exist_ok=True)
    recipe_table(analysis.recipes).to_parquet(recipes, index=False)
    write_rejected(rejected, analysis.rejected)
    write_table(build_table(analysis.feature_keys, analysis.feature_rows), features)
    write_rejected(features_rejected, analysis.rejected)
    table = segment_table(analysis)
    segments = Path(segments)
    segments.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, segments, compression="zstd", write_statistics=True)
    mel_shard_from_items(analysis.mel_items, pretrain.mel_config(), pretrain.mel_max_s).save(mels)


def read_segment_table(path: str | Path) -> pd.DataFrame:
    """One per-segment table, checked (columns of the contract, NaN only, never infinity)."""
    table = pq.read_table(path)
    check_table(table.drop_columns(list(SEGMENT_COLUMNS)), path, undefined=undefined_columns(0, 1.0))
    return table.to_pandas()
