"""Evaluation of separators on the test split: the workflow's separated stems, the oracle, the baseline.

The separated stems are read from the shard indexes (results/stems/*/index.parquet) rather than computed
again: the numbers describe exactly the stems the later stages use, and the model runs once per track.
Systems compared on every test track with true stems:
- `separated` (the index's method, normally `scnet`);
- `oracle`: the true stems themselves (an upper bound and a check of the metric: SDR = 10 log10(1 + E/d));
- `baseline`: mixture / 4 for every stem (the trivial separator a trained one must beat).
SDR is the MDX "new SDR", SI-SDR the scale-invariant SDR (`metrics.py`), both over whole tracks.
A stem that is silent in a track's reference (SILENT_DB) is left out of that stem's "active" figures, where SDR
means nothing; there the estimate's leakage (its energy against the mixture's, dB) is reported instead.
The headline is the margin over the baseline per stem on the active tracks: mean difference in SDR,
a seeded bootstrap 95 % interval over tracks, and on how many tracks the separator wins.
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
BOOTSTRAP = 2000  # resamples of the tracks for the margin's interval


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
    leakage: list[TrackScore] = []
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
        n = min(truth.shape[-1], mixture.shape[-1], separated.shape[-1])
        for name in silent_stems(truth[..., :n], mixture[:, :n]):
            silent[name].append(row.track_id)
        scores += score_track(truth, separated, row.track_id, "separated")
        scores += score_track(truth, truth, row.track_id, "oracle")
        baseline = np.repeat(mixture[None, :, :n] / 4.0, len(STEMS), axis=0)
        scores += score_track(truth[..., :n], baseline, row.track_id, "baseline")
        leakage.append(TrackScore(row.track_id, "separated", "leakage_db",
                                  leakage_db(separated[..., :n], mixture[:, :n])))
        leakage.append(TrackScore(row.track_id, "baseline", "leakage_db", leakage_db(baseline, mixture[:, :n])))
    result = summarise(scores, skipped, methods, split, silent)
    result["silent_leakage_db"] = silent_leakage(leakage, silent)
    result["margin_over_baseline"] = margins(result)
    return result


def leakage_db(estimate: np.ndarray, mixture: np.ndarray) -> tuple[float, ...]:
    """Per stem: the estimate's energy against the mixture's, dB (what a separator puts in a silent stem)."""
    return tuple(level_db(stem, mixture) for stem in estimate)


def silent_leakage(leakage: list[TrackScore], silent: dict[str, list[str]]) -> dict:
    """Mean leakage per system over the tracks where each stem's reference is silent (lower is better)."""
    out: dict = {}
    for system in ("separated", "baseline"):
        out[system] = {}
        for i, name in enumerate(STEMS):
            values = [s.values[i] for s in leakage if s.system == system and s.track_id in silent[name]]
            out[system][name] = float(np.mean(values)) if values else None
    return out


def margins(result: dict, metric: str = "sdr", seed: int = 0) -> dict[str, dict]:
    """Per stem, separated minus baseline over the tracks where the stem is active: mean, bootstrap 95 %
    interval (tracks resampled, seeded), wins / tracks. A stem with no active track gets None."""
    rows = {(r["track_id"], r["system"]): r for r in result["per_track"] if r["metric"] == metric}
    rng = np.random.default_rng(seed)
    out: dict[str, dict] = {}
    for name in STEMS:
        diffs = np.array([rows[(t, "separated")][name] - rows[(t, "baseline")][name]
                          for t in result["tracks"] if t not in result["silent_stems"][name]
                          and (t, "separated") in rows and (t, "baseline") in rows])
        if diffs.size == 0:
            out[name] = None
            continue
        boot = diffs[rng.integers(0, diffs.size, size=(BOOTSTRAP, diffs.size))].mean(axis=1)
        out[name] = {"mean": float(diffs.mean()), "ci95": [float(np.percentile(boot, 2.5)),
                                                           float(np.percentile(boot, 97.5))],
                     "wins": int(np.sum(diffs > 0)), "tracks": int(diffs.size)}
    return out


def level_db(signal: np.ndarray, reference: np.ndarray) -> float:
    """Energy of `signal` against `reference`'s, dB (float64 sums; exact silence gives about -200 dB)."""
    energy = float(np.sum(np.asarray(signal, dtype=np.float64) ** 2))
    reference_energy = float(np.sum(np.asarray(reference, dtype=np.float64) ** 2))
    return float(10 * np.log10((energy + 1e-20) / (reference_energy + 1e-12)))


def silent_stems(truth: np.ndarray, mixture: np.ndarray, threshold_db: float = SILENT_DB) -> list[str]:
    """Stems whose energy is `threshold_db` or more below the mixture's: SDR is not meaningful there
    (any estimate but exact silence scores far below 0 dB), so they are counted and also left out of
    the `mean_active` figures."""
    return [name for name, stem in zip(STEMS, truth) if level_db(stem, mixture) <= threshold_db]


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
    """Per stem: is the separated system's mean margin over the baseline positive on the active tracks?"""
    return {name: m is not None and m["mean"] > 0 for name, m in margins(result, metric).items()}


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
    table = margins(result)
    lines += ["", "Margin over the baseline (separated minus mixture / 4, SDR dB, tracks where the stem is active; "
              f"95 % bootstrap interval over tracks, {BOOTSTRAP} resamples):", "",
              "| stem | margin | 95 % interval | wins |", "|---|---:|---:|---:|"]
    for name, m in table.items():
        if m is None:
            lines.append(f"| {name} | n/a | n/a | 0 / 0 |")
        else:
            lines.append(f"| {name} | {m['mean']:+.2f} | [{m['ci95'][0]:+.2f}, {m['ci95'][1]:+.2f}] | "
                         f"{m['wins']} / {m['tracks']} |")
    leak = result.get("silent_leakage_db")
    if leak and any(v is not None for v in leak["separated"].values()):
        lines += ["", "Leakage into silent reference stems (estimate energy against the mixture's, dB, mean over "
                  "the tracks where the stem is silent; lower is better):", "",
                  "| system | " + " | ".join(STEMS) + " |", "|---|" + "---:|" * len(STEMS)]
        for system in ("separated", "baseline"):
            cells = " | ".join("n/a" if v is None else f"{v:.1f}" for v in leak[system].values())
            lines.append(f"| {label[system]} | {cells} |")
    if result["skipped"]:
        lines += ["", f"Skipped {len(result['skipped'])} tracks (see eval.json)."]
    return "\n".join(lines) + "\n"
