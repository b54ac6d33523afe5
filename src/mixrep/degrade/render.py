"""Rendering recipes: `render_variant` (the API the features and pretraining stages call) and `iter_variants`.

Rendered audio is not stored by the workflow (docs/degrade.md, "Storage"): a variant is re-rendered from its
recipe whenever it is needed, which is why rendering must be fast (>= 100x real time for a 4-stem track;
benchmarks/features.py measures it) and exactly reproducible (every effect is a pure function of its input,
so rendering a recipe twice gives bit-identical float32 audio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from mixrep.audio import read_stems
from mixrep.degrade.recipes import ALL_STEMS, EffectSpec, effects_from_json
from mixrep.stems import SAMPLE_RATE, STEMS
from mixrep.tables import read_table

#: observer(spec, stem_index, before, after): called after each single-stem effect (severity.SeverityMeter)
Observer = Callable[[EffectSpec, int, np.ndarray, np.ndarray], None]


def check_stems(stems: np.ndarray) -> np.ndarray:
    """Stems as float32 (4, 2, N) or a ValueError saying what was received."""
    stems = np.asarray(stems)
    if stems.ndim != 3 or stems.shape[0] != len(STEMS) or stems.shape[1] != 2:
        raise ValueError(f"stems must have shape ({len(STEMS)}, 2, N) in order {STEMS}, got {stems.shape}")
    return stems.astype(np.float32, copy=False)


def mix(stems: np.ndarray) -> np.ndarray:
    """The remix: the sum of the stems, (2, N) float32."""
    return np.sum(stems, axis=0, dtype=np.float32)


def _resolve(spec: EffectSpec, audio: np.ndarray) -> EffectSpec:
    """Fix audio-relative parameters (compressor/expander thresholds) against the stem as it enters the effect."""
    effect = spec.effect.resolved(audio)
    return spec if effect is spec.effect else EffectSpec(spec.stem, effect)


def render_chain(stems: np.ndarray, effects: str | Sequence[Any], sample_rate: int = SAMPLE_RATE,
                 observer: Observer | None = None) -> tuple[np.ndarray, tuple[EffectSpec, ...]]:
    """Apply `effects` in order; return the new stems and the effects with thresholds resolved.

    The input is not modified. Effects on `stem == "all"` (the headroom gain) apply to every stem and are
    not shown to the observer.
    """
    out = check_stems(stems).copy()
    resolved: list[EffectSpec] = []
    for spec in effects_from_json(effects):
        if spec.stem == ALL_STEMS:
            for index in range(len(STEMS)):
                out[index] = spec.effect.apply(out[index], sample_rate)
            resolved.append(spec)
            continue
        index = STEMS.index(spec.stem)
        spec = _resolve(spec, out[index])
        before = out[index]
        after = spec.effect.apply(before, sample_rate)
        if after.shape != before.shape:
            raise RuntimeError(f"effect {spec.effect.name} changed the stem shape {before.shape} -> {after.shape}")
        if observer is not None:
            observer(spec, index, before, after)
        out[index] = after
        resolved.append(spec)
    return out, tuple(resolved)


def render_variant(stems: np.ndarray, effects: str | Sequence[Any], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render one variant: float32 stems (4, 2, N) + a recipe's `effects` -> float32 stems (4, 2, N).

    `effects` is the recipes' `effects` column (JSON string) or the parsed list. An empty list returns a copy
    of the stems, so variant 0's mix is the plain sum. Bit-identical on every call with the same input.
    """
    return render_chain(stems, effects, sample_rate)[0]


def _resolve_dir(stem_dir: str, root: Path | None) -> Path:
    path = Path(stem_dir)
    return path if path.is_absolute() or root is None else root / path


def iter_variants(stems_index: str | Path, recipes: str | Path | pd.DataFrame, root: str | Path | None = None,
                  sample_rate: int = SAMPLE_RATE) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield `(track_id, variant_id, stems (4, 2, N) float32)` for every recipe row, in recipe order.

    Each track's stems are read once (`mixrep.audio.read_stems`) and every variant of it rendered from
    them. `stem_dir` in the stems index is relative to `root` (default: the working directory, which in
    the workflow is the repository root). A track of the recipes missing from the index raises ValueError.
    """
    index = read_table(stems_index, "stems index", columns=("track_id", "stem_dir"), text_columns=("track_id",))
    table = recipes if isinstance(recipes, pd.DataFrame) else read_table(
        recipes, "recipes", columns=("track_id", "variant_id", "effects"), text_columns=("track_id",))
    missing = sorted(set(table["track_id"]) - set(index["track_id"]))
    if missing:
        source = "recipes" if isinstance(recipes, pd.DataFrame) else str(recipes)
        raise ValueError(f"{source}: tracks {missing[:5]} are not in the stems index {stems_index}")
    dirs = dict(zip(index["track_id"], index["stem_dir"]))
    base = Path(root) if root is not None else Path.cwd()
    for track_id, rows in table.groupby("track_id", sort=False):
        stems = read_stems(_resolve_dir(dirs[track_id], base))
        for row in rows.sort_values("variant_id").itertuples(index=False):
            yield str(track_id), int(row.variant_id), render_variant(stems, row.effects, sample_rate)

