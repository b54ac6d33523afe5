"""One pass over a shard: stems read once per track (a bounded excerpt), every variant rendered ONCE.

From each render come, in this order: its recipe row and severity (mixrep.degrade.shard.render_track_variants),
its whole-variant feature rows (mixrep.features.extract_segments, as `mixrep features` computed them), its
log-Mels (the centred `mel_max_s` crop, mixrep.pretrain.mels.iter_item_mels) and the features of every
encoder view of that crop (mixrep.pretrain.windows: exactly the samples that produce the view's Mel frames).
A track that fails (unreadable or non-finite stems, a feature error) is left out of every output with its
reason; the others go on. Tracks of a reference-only split (the crossed content x mixing-style set: only its
reference mixes are embedded) get variant 0 alone; the split is read from the stems index' `split` column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection

import pandas as pd
import pyarrow.parquet as pq

import numpy as np

from mixrep.analyse.excerpt import read_stems_excerpt
from mixrep.analyse.settings import AnalyseSettings
from mixrep.pretrain.windows import view_windows
from mixrep.audio import AudioError
from mixrep.degrade.shard import VariantRow, non_finite_reason, render_track_variants, shard_tracks
from mixrep.errors import Rejected
from mixrep.features.extract import extract_segments, extract_window_features
from mixrep.model.frontend import MelFrontend
from mixrep.pretrain.mels import iter_item_mels
from mixrep.signal.excerpt import centred_excerpt
from mixrep.stems import SAMPLE_RATE

log = logging.getLogger("mixrep.analyse")

Key = tuple[str, int, int]
REFERENCE_ONLY_SPLITS: tuple[str, ...] = ("crossed",)


@dataclass
class ShardAnalysis:
    """Everything one shard's pass produced (the CLI writes it; tests read it)."""

    recipes: list[VariantRow] = field(default_factory=list)
    feature_keys: list[Key] = field(default_factory=list)
    feature_rows: list[dict[str, float]] = field(default_factory=list)
    segment_keys: list[Key] = field(default_factory=list)
    segment_frames: list[tuple[int, int, int]] = field(default_factory=list)  # frame_start, sample start, stop
    segment_rows: list[dict[str, float]] = field(default_factory=list)
    mel_items: list[tuple[str, int, np.ndarray]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    renders: int = 0

    def extend(self, other: ShardAnalysis) -> None:
        for name in ("recipes", "feature_keys", "feature_rows", "segment_keys", "segment_frames", "segment_rows",
                     "mel_items", "rejected"):
            getattr(self, name).extend(getattr(other, name))
        self.renders += other.renders


def analyse_track(track_id: str, stems: np.ndarray, settings: AnalyseSettings, frontend: MelFrontend,
                  sample_rate: int = SAMPLE_RATE, reference_only: bool = False) -> ShardAnalysis:
    """Every output of one track's variants, each variant rendered once (`reference_only`: variant 0 alone)."""
    out = ShardAnalysis()
    cfg = settings.pretrain
    mel = frontend.config
    max_samples = None if cfg.mel_max_s is None else int(round(cfg.mel_max_s * sample_rate))
    degrade = replace(settings.degrade, variants_per_track=0) if reference_only else settings.degrade
    for row, rendered in render_track_variants(track_id, stems, degrade, settings.seed, sample_rate):
        out.renders += 1
        out.recipes.append(row)
        for segment, features in enumerate(extract_segments(rendered, sample_rate, settings.features)):
            out.feature_keys.append((track_id, row.variant_id, segment))
            out.feature_rows.append(features)
        crop = centred_excerpt(rendered, max_samples)
        out.mel_items += list(iter_item_mels([(track_id, row.variant_id, crop)], frontend, None))
        for window in view_windows(crop.shape[-1], cfg.segment_frames, mel.hop_length, mel.n_fft):
            view = crop[..., window.sample_start:window.sample_stop]
            out.segment_keys.append((track_id, row.variant_id, window.segment))
            out.segment_frames.append((window.frame_start, window.sample_start, window.sample_stop))
            out.segment_rows.append(extract_window_features(view, sample_rate, settings.features))
    return out


def index_splits(stems_index: str | Path) -> dict[str, str]:
    """track_id -> split from the stems index' `split` column ({} for an index without one)."""
    if "split" not in pq.read_schema(stems_index).names:
        return {}
    table = pd.read_parquet(stems_index, columns=["track_id", "split"])
    return {str(t): str(s) for t, s in zip(table["track_id"], table["split"]) if isinstance(s, str)}


def analyse_shard(stems_index: str | Path, settings: AnalyseSettings, root: str | Path | None = None,
                  sample_rate: int = SAMPLE_RATE, reference_only_splits: Collection[str] = REFERENCE_ONLY_SPLITS,
                  splits: dict[str, str] | None = None) -> ShardAnalysis:
    """The whole pass over one stems index (tracks sorted by id).

    Tracks whose split is in `reference_only_splits` get only their reference (variant 0). Their split comes
    from `splits` (track_id -> split) when given, else from the stems index' `split` column; an index without
    one renders every variant of every track, as before.
    """
    tracks, rejected = shard_tracks(stems_index, root)
    split_of = index_splits(stems_index) if splits is None else dict(splits)
    reference_only = {tid for tid, split in split_of.items() if split in set(reference_only_splits)}
    result = ShardAnalysis(rejected=list(rejected))
    frontend = MelFrontend(settings.pretrain.mel_config())
    for track_id, path in tracks:
        try:
            stems = read_stems_excerpt(path, settings.excerpt_s)
            reason = non_finite_reason(path, stems)
            if reason:
                raise ValueError(reason)
            result.extend(analyse_track(track_id, stems, settings, frontend, sample_rate,
                                        reference_only=track_id in reference_only))
        except (AudioError, ValueError, FileNotFoundError) as exc:
            log.error("%s: skipped: %s", track_id, exc)
            result.rejected.append(Rejected(track_id, str(exc)))
            continue
        log.info("%s: %d samples analysed (excerpt_s %s)", track_id, stems.shape[-1], settings.excerpt_s)
    return result
