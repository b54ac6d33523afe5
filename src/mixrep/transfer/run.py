"""One stem-aware style transfer (`transfer_pair`) and the report over all pairs (`summarise`).

Every method is scored on the same excerpt the optimiser saw: `none` (the source stems summed as they are),
`loudness_match` (the same mix with one gain to the target's loudness) and `transfer` (ST-ITO). The
transferred stems written to disk are the whole source track rendered with the parameters found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixrep.audio import write_audio, write_stems
from mixrep.settings import write_json
from mixrep.signal.excerpt import centred_excerpt, excerpt_samples
from mixrep.signal.loudness import integrated_lufs
from mixrep.stems import SAMPLE_RATE
from mixrep.transfer.chain import SILENCE_LUFS, ChainSettings, master_gain_db, render
from mixrep.transfer.distances import DISTANCE_NAMES, cosine_distance, feature_distances, mix_features
from mixrep.transfer.embedding import EmbedFn
from mixrep.transfer.ito import ItoResult, ItoSettings, StyleObjective, cmaes
from mixrep.transfer.presets import resolve_search
from mixrep.transfer.pairs import Pair
from mixrep.transfer.params import ParamSpace

METHODS = ("none", "loudness_match", "transfer")
METRICS = ("embedding", *DISTANCE_NAMES)
DEFAULT_PARAMS = ("gain_db", "low_shelf_gain_db", "peak_gain_db", "high_shelf_gain_db", "comp_threshold_db",
                  "comp_ratio", "width", "reverb_send")  # 8 per stem: see docs/transfer.md, "Measured"
# Below these a baseline distance counts as zero (measurement resolution): no fraction is computed.
RESOLUTION = {"embedding": 1e-6, "loudness_lu": 0.01, "crest_db": 0.01, "mel_db": 0.01, "width": 1e-4,
              "imbalance_db": 0.01}


@dataclass(frozen=True)
class TransferSettings:
    """Everything one transfer needs besides the audio and the embedding (config section `transfer`)."""

    space: ParamSpace
    ito: ItoSettings
    excerpt_s: float | None = 6.0
    master_lufs: float | None = None  # None: the target's loudness
    feature_weight: float = 0.0
    reverb_room_size: float = 0.5
    reverb_damping: float = 0.5

    @classmethod
    def from_config(cls, section: dict[str, Any], seed: int) -> "TransferSettings":
        """`ito` is the preset (`transfer.preset`, presets.py) with the `transfer.cmaes` keys over it."""
        return cls(
            space=ParamSpace(section.get("params", DEFAULT_PARAMS), section.get("bypass", [])),
            ito=resolve_search(section, seed),
            excerpt_s=section.get("excerpt_s", 6.0),
            master_lufs=section.get("master_lufs"),
            feature_weight=float(section.get("feature_weight", 0.0)),
            reverb_room_size=float(section.get("reverb_room_size", 0.5)),
            reverb_damping=float(section.get("reverb_damping", 0.5)),
        )


@dataclass
class PairResult:
    """One pair's search, its summary rows, and the wall time (printed only: outputs stay deterministic)."""

    pair: Pair
    ito: ItoResult
    rows: list[dict[str, Any]]
    seconds: float


def transfer_pair(pair: Pair, source: np.ndarray, target: np.ndarray, embed_fn: EmbedFn,
                  settings: TransferSettings, out_dir: str | Path,
                  sample_rate: int = SAMPLE_RATE) -> PairResult:
    """Optimise, write `<out_dir>/{mix.wav, stems/, params.json, curve.csv, curve.png}` and score the methods."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    length = excerpt_samples(settings.excerpt_s, sample_rate)
    src_x, tgt_x = centred_excerpt(source, length), centred_excerpt(target, length)
    target_mix = tgt_x.sum(axis=0)
    target_lufs = settings.master_lufs if settings.master_lufs is not None else integrated_lufs(target_mix, sample_rate)
    if not np.isfinite(target_lufs) or target_lufs < SILENCE_LUFS:
        raise ValueError(f"target {pair.target}: excerpt is silent ({target_lufs} LUFS), no style to transfer")
    if integrated_lufs(src_x.sum(axis=0), sample_rate) < SILENCE_LUFS:
        raise ValueError(f"source {pair.source}: excerpt is silent, nothing to process")
    chain = ChainSettings(settings.reverb_room_size, settings.reverb_damping, target_lufs)
    objective = StyleObjective(settings.space, embed_fn, tgt_x, src_x, chain, settings.feature_weight, sample_rate)
    result = cmaes(objective, settings.space.neutral_vector(), settings.ito)

    match_gain = 10.0 ** (master_gain_db(src_x.sum(axis=0), sample_rate, target_lufs) / 20.0)
    candidates = {"none": src_x, "loudness_match": (src_x * match_gain).astype(np.float32),
                  "transfer": objective.render(result.x)}
    z = np.asarray(embed_fn(np.stack([candidates[m] for m in METHODS])), dtype=np.float64)
    emb = cosine_distance(z, objective.z_target[None, :])
    target_features = mix_features(target_mix, sample_rate)
    rows = []
    for k, method in enumerate(METHODS):
        record: dict[str, Any] = {"pair": pair.name, "source": pair.source, "target": pair.target,
                                  "source_genre": pair.source_genre, "target_genre": pair.target_genre,
                                  "method": method, "embedding": float(emb[k])}
        record.update(feature_distances(mix_features(candidates[method].sum(axis=0), sample_rate), target_features))
        rows.append(record)

    physical = settings.space.to_physical(result.x)
    full = render(source, physical, sample_rate, settings.space.bypass, chain)
    write_stems(out_dir / "stems", full, sample_rate)
    write_audio(out_dir / "mix.wav", full.sum(axis=0), sample_rate)
    seconds = time.perf_counter() - started
    write_json(out_dir / "params.json", {
        **settings.space.describe(result.x), "source": pair.source, "target": pair.target,
        "objective": result.objective, "initial_objective": result.initial_objective,
        "target_lufs": target_lufs, "stop_reason": result.stop_reason,
        "evaluations": result.curve[-1].evaluations})
    write_curve(result, out_dir)
    rows[-1].update({"objective": result.objective, "evaluations": result.curve[-1].evaluations})
    return PairResult(pair, result, rows, seconds)


def write_curve(result: ItoResult, out_dir: Path) -> None:
    """curve.csv (one row per generation) and curve.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.DataFrame([vars(point) for point in result.curve])
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "curve.csv", index=False)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(table["evaluations"], table["generation_mean"], ".", color="0.6", label="generation mean")
    ax.plot(table["evaluations"], table["best"], "-", color="C0", label="best so far")
    ax.set_xlabel("objective evaluations")
    ax.set_ylabel("1 - cos(z, z_target) (+ features)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(out_dir / "curve.png", dpi=120)
    plt.close(fig)


def summarise(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Distances per pair x method, then per pair the fraction of each baseline distance the transfer closed:
    `fraction_closed` against `none` and `fraction_closed_vs_loudness_match` against the loudness-matched mix
    (what the chain adds beyond a gain), and their means over pairs (`pair == "mean"`).
    Fractions are NaN where the baseline distance is below RESOLUTION."""
    table = pd.DataFrame(rows)
    closed = []
    for _, group in table.groupby("pair", sort=False):
        after = group[group["method"] == "transfer"].iloc[0]
        for baseline, label in (("none", "fraction_closed"), ("loudness_match", "fraction_closed_vs_loudness_match")):
            before = group[group["method"] == baseline].iloc[0]
            record = {c: before[c] for c in ("pair", "source", "target", "source_genre", "target_genre")}
            record["method"] = label
            for metric in METRICS:
                d0 = float(before[metric])
                record[metric] = (d0 - float(after[metric])) / d0 if d0 > RESOLUTION[metric] else float("nan")
            closed.append(record)
    closed_table = pd.DataFrame(closed)
    means = [{"pair": "mean", "method": label, **{m: float(part[m].mean()) for m in METRICS}}
             for label, part in closed_table.groupby("method", sort=False)]
    return pd.concat([table, closed_table, pd.DataFrame(means)], ignore_index=True)


def write_summary(summary: pd.DataFrame, skipped: list[Any], csv_path: str | Path) -> None:
    """summary.csv and a human-readable summary.md beside it."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(csv_path, index=False, float_format="%.6g")
    cols = ["pair", "method", *METRICS, *(c for c in ("objective", "evaluations") if c in summary)]
    lines = ["# Style transfer (ST-ITO): distances to the target", "",
             "Lower is better for distances; `fraction_closed` = (none - transfer) / none (1 = target reached); "
             "`fraction_closed_vs_loudness_match` = the same against the loudness-matched source (NaN where the "
             "baseline distance is ~0, e.g. loudness after matching).",
             "Distances: embedding = 1 - cos(z, z_target); loudness_lu = |LUFS difference|; crest_db = |crest "
             "factor difference|; mel_db = mean |difference| of mean-removed Mel-band levels; width = |side-energy "
             "share difference|; imbalance_db = |L/R balance difference|.", "",
             summary[cols].to_markdown(index=False, floatfmt=".3f"), ""]
    if skipped:
        lines += ["## Pairs not used", ""] + [f"- {s.request}: {s.reason}" for s in skipped] + [""]
    csv_path.with_suffix(".md").write_text("\n".join(lines))
