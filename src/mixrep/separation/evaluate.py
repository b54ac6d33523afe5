"""Evaluation of separators on the test split: the workflow's separated stems, the oracle, the baseline.

The separated stems are read from the shard indexes (results/stems/*/index.parquet) rather than computed
again: the numbers describe exactly the stems the later stages use, and the model runs once per track.
Systems compared on every test track with true stems:
- `separated` (the index's method, normally `scnet`);
- `oracle`: the true stems themselves (an upper bound and a check of the metric: SDR = 10 log10(1 + E/d));
- `baseline`: mixture / 4 for every stem (the trivial separator a trained one must beat).
SDR is the MDX "new SDR", SI-SDR the scale-invariant SDR (`metrics.py`), both over whole tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixrep.audio import AudioError, load_audio, read_stems
from mixrep.separation.data import split_rows
from mixrep.separation.metrics import si_sdr, sdr
from mixrep.stems import STEMS

SILENT_DB = -50.0  # a stem this far below the mixture's energy counts as silent


@dataclass(frozen=True)
class TrackScore:
    track_id: str
    system: str
    metric: str
    values: tuple[float, ...]  # one per stem, STEMS order


def score_track(truth: np.ndarray, estimate: np.ndarray, track_id: str, system: str) -> list[TrackScore]:
    n = min(truth.shape[-1], estimate.shape[-1])
    truth, estimate = truth[..., :n], estimate[..., :n]
    return [TrackScore(track_id, system, "sdr", tuple(map(float, sdr(truth, estimate)))),
            TrackScore(track_id, system, "si_sdr", tuple(map(float, si_sdr(truth, estimate))))]


def evaluate(manifest: pd.DataFrame, stems_index: pd.DataFrame, split: str = "test") -> dict:
    """Scores of every system on `split`; tracks that cannot be scored are listed with their reason."""
    index = stems_index[stems_index["status"] == "ok"].set_index("track_id")
    methods = sorted(set(stems_index["method"]))
    scores: list[TrackScore] = []
    skipped: list[dict] = []
    silent: dict[str, list[str]] = {name: [] for name in STEMS}
    for row in split_rows(manifest, split).itertuples(index=False):
        try:
            if row.stems_dir is None or (isinstance(row.stems_dir, float) and np.isnan(row.stems_dir)):
                raise AudioError(row.path, "no true stems (stems_dir is null)")
            if row.track_id not in index.index:
                raise AudioError(row.path, "not separated (missing or failed in the stems index)")
            truth = read_stems(row.stems_dir)
            mixture, _ = load_audio(row.path)
            separated = read_stems(index.loc[row.track_id, "stem_dir"])
        except AudioError as exc:
            skipped.append({"track_id": row.track_id, "reason": str(exc)})
            continue
        n = min(truth.shape[-1], mixture.shape[-1])
        for name in silent_stems(truth[..., :n], mixture[:, :n]):
            silent[name].append(row.track_id)
        scores += score_track(truth, separated, row.track_id, "separated")
        scores += score_track(truth, truth, row.track_id, "oracle")
        baseline = np.repeat(mixture[None, :, :n] / 4.0, len(STEMS), axis=0)
        scores += score_track(truth[..., :n], baseline, row.track_id, "baseline")
    return summarise(scores, skipped, methods, split, silent)


def silent_stems(truth: np.ndarray, mixture: np.ndarray, threshold_db: float = SILENT_DB) -> list[str]:
    """Stems whose energy is `threshold_db` or more below the mixture's: SDR is not meaningful there
    (any estimate but exact silence scores far below 0 dB), so they are counted and also left out of
    the `mean_active` figures."""
    mix_energy = float(np.sum(mixture.astype(np.float64) ** 2)) + 1e-12
    return [name for name, stem in zip(STEMS, truth)
            if 10 * np.log10((float(np.sum(stem.astype(np.float64) ** 2)) + 1e-20) / mix_energy) <= threshold_db]


def summarise(scores: list[TrackScore], skipped: list[dict], methods: list[str], split: str,
              silent: dict[str, list[str]] | None = None) -> dict:
    """Mean and median per system, metric and stem (all tracks; and tracks where the stem is active)."""
    silent = silent or {name: [] for name in STEMS}
    summary: dict = {}
    for system in ("separated", "oracle", "baseline"):
        summary[system] = {}
        for metric in ("sdr", "si_sdr"):
            rows = [s for s in scores if s.system == system and s.metric == metric]
            values = np.array([s.values for s in rows])
            if values.size == 0:
                continue
            active = {name: [s.values[i] for s in rows if s.track_id not in silent[name]]
                      for i, name in enumerate(STEMS)}
            summary[system][metric] = {
                "mean_active": {name: float(np.mean(v)) if v else None for name, v in active.items()},
                "mean": {name: float(values[:, i].mean()) for i, name in enumerate(STEMS)},
                "median": {name: float(np.median(values[:, i])) for i, name in enumerate(STEMS)},
                "mean_all": float(values.mean()),
            }
    per_track = [{"track_id": s.track_id, "system": s.system, "metric": s.metric,
                  **dict(zip(STEMS, s.values))} for s in scores]
    tracks = sorted({s.track_id for s in scores})
    return {"split": split, "separated_method": methods, "silent_stems": silent,
            "silent_threshold_db": SILENT_DB, "num_tracks": len(tracks), "tracks": tracks,
            "summary": summary, "per_track": per_track, "skipped": skipped,
            "metrics": {"sdr": "MDX new SDR 10log10((|s|^2+1e-7)/(|s-s_hat|^2+1e-7)) over channels x samples",
                        "si_sdr": "scale-invariant SDR of the channel-stacked signal"}}


def beats_baseline(result: dict, metric: str = "sdr") -> dict[str, bool]:
    """Per stem: does the separated system's mean beat the mixture/4 baseline?"""
    sep = result["summary"]["separated"][metric]["mean"]
    base = result["summary"]["baseline"][metric]["mean"]
    return {name: sep[name] > base[name] for name in STEMS}


def markdown_table(result: dict) -> str:
    """A small table: mean SDR and SI-SDR (dB) per system and stem."""
    label = {"separated": f"separated ({', '.join(result['separated_method'])})",
             "oracle": "oracle (true stems)", "baseline": "baseline (mixture / 4)"}
    lines = [f"Separation on the {result['split']} split ({result['num_tracks']} tracks), mean over tracks, dB.",
             "", "| system | metric | " + " | ".join(STEMS) + " | all |",
             "|---|---|" + "---:|" * (len(STEMS) + 1)]
    for system, metrics in result["summary"].items():
        for metric, values in metrics.items():
            cells = " | ".join(f"{values['mean'][name]:.2f}" for name in STEMS)
            lines.append(f"| {label[system]} | {metric} | {cells} | {values['mean_all']:.2f} |")
    counts = {name: len(ids) for name, ids in result["silent_stems"].items() if ids}
    if counts:
        lines += ["", "Silent reference stems (" + ", ".join(f"{n}: {c} tracks" for n, c in counts.items())
                  + f", energy {result['silent_threshold_db']:g} dB or more below the mixture): any estimate but "
                  "silence scores far below 0 dB there. Mean SDR over the tracks where the stem is active:", "",
                  "| system | " + " | ".join(STEMS) + " |", "|---|" + "---:|" * len(STEMS)]
        for system, metrics in result["summary"].items():
            if "sdr" in metrics:
                cells = " | ".join("n/a" if v is None else f"{v:.2f}" for v in metrics["sdr"]["mean_active"].values())
                lines.append(f"| {label[system]} | {cells} |")
    if result["skipped"]:
        lines += ["", f"Skipped {len(result['skipped'])} tracks (see eval.json)."]
    return "\n".join(lines) + "\n"
