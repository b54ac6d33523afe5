"""Evaluation of separators on the test split: the workflow's separated stems, the oracle, the baseline.

The separated stems are read from the shard indexes (results/stems/*/index.parquet) rather than computed
again: the numbers describe exactly the stems the later stages use, and the model runs once per track.
Systems compared on every test track with true stems:
- `separated` (the index's method, normally `scnet`);
- `oracle`: the true stems themselves (an upper bound and a check of the metric: SDR = 10 log10(1 + E/d));
- `baseline`: mixture / 4 for every stem (the trivial separator a trained one must beat).
SDR is the MDX "new SDR", SI-SDR the scale-invariant SDR (`metrics.py`), both over whole tracks; beside them
`sdr_museval` is the BSS Eval v4 SDR aggregated as SiSEC / MUSDB18 report it (median over 1 s frames per track,
then median over tracks per stem; the mean of the four stems' medians is the figure SCNet's 9.00 dB is), from
mixrep's implementation by default or from museval itself (`use_museval`). A stem museval cannot score in a
track (all-zero reference or estimate: museval raises) is skipped for that track and counted (`museval_skipped`).
A stem that is silent in a track's reference (SILENT_DB) is left out of that stem's "active" figures, where SDR
means nothing; there the estimate's leakage (its energy against the mixture's, dB) is reported instead.
The headline is the margin over the baseline per stem on the active tracks: mean difference in SDR,
a seeded bootstrap 95 % interval over tracks, and on how many tracks the separator wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixrep.audio import AudioError, load_audio, read_stems
from mixrep.separation.data import split_rows
from mixrep.separation.metrics import median_frames, museval_frames, museval_sources, sdr, sdr_v4_frames, si_sdr
from mixrep.stems import STEMS

SILENT_DB = -50.0  # a stem this far below the mixture's energy counts as silent
BOOTSTRAP = 2000  # resamples of the tracks for the margin's interval
NO_STEMS_NOTE = ("no track of the {split} split has true stems: separation quality is not measured on this "
                 "source")
SDR_MUSEVAL = ("BSS Eval v4 SDR (museval 0.4 mode v4: 10log10(|s|^2/|s-s_hat|^2) per 1 s frame, window = hop = "
               "44100, no distortion filter in SDR); per track the median of the frames that are not NaN (a frame "
               "is NaN when any reference or estimate stem is silent in it), per stem the median over tracks "
               "(SiSEC 2018 / MUSDB18; SCNet's published 9.00 dB is the mean over the four stems of these medians)")


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


@dataclass
class MusevalTally:
    """What the museval-style scoring skipped, and how far mixrep's v4 SDR was from museval's when both ran."""

    use_museval: bool = False
    skipped: list[dict] = field(default_factory=list)
    max_abs_diff_db: float = 0.0
    frames_compared: int = 0

    def score(self, truth: np.ndarray, estimate: np.ndarray, track_id: str, system: str) -> TrackScore:
        """Per stem the median of 1 s v4 SDR frames; NaN for a stem museval could not score (counted)."""
        n = truth.shape[-1]
        estimate = estimate[..., :n] if estimate.shape[-1] >= n else np.pad(
            estimate, [(0, 0), (0, 0), (0, n - estimate.shape[-1])])
        ok = museval_sources(truth, estimate)
        for name, good, silent_ref in zip(STEMS, ok, ~museval_sources(truth, truth)):
            if not good:
                reason = "reference stem is all zeros" if silent_ref else "estimate stem is all zeros"
                self.skipped.append({"track_id": track_id, "system": system, "stem": name, "reason": reason})
        values = np.full(len(STEMS), np.nan)
        if ok.any():
            frames = sdr_v4_frames(truth[ok], estimate[ok])
            if self.use_museval:
                reference = museval_frames(truth[ok], estimate[ok])
                both = ~np.isnan(frames) & ~np.isnan(reference) & np.isfinite(frames)
                if not np.array_equal(np.isnan(frames), np.isnan(reference)):
                    raise AssertionError(f"{track_id}/{system}: museval's NaN frames differ from mixrep's")
                if both.any():
                    self.max_abs_diff_db = max(self.max_abs_diff_db,
                                               float(np.max(np.abs(frames[both] - reference[both]))))
                self.frames_compared += int(both.sum())
                frames = reference
            values[ok] = median_frames(frames)
        return TrackScore(track_id, system, "sdr_museval", tuple(map(float, values)))

    def report(self) -> dict:
        counts: dict[str, int] = {}
        for item in self.skipped:
            key = f"{item['system']}/{item['stem']}"
            counts[key] = counts.get(key, 0) + 1
        out = {"count": len(self.skipped), "by_system_stem": counts, "items": self.skipped,
               "note": "museval raises on a stem whose reference (or estimate) is all zeros over the whole "
                       "track; such a stem is left out of that track's museval-style SDR (the other stems are "
                       "scored) and of its median over tracks"}
        return out


def evaluate(manifest: pd.DataFrame, stems_index: pd.DataFrame, split: str = "test",
             use_museval: bool = False) -> dict:
    """Scores of every system on `split`; tracks that cannot be scored are listed with their reason.

    `use_museval`: take the museval-style SDR from museval itself (≈ 10 s CPU per 12 s track and system) and
    record its largest difference from mixrep's implementation; otherwise mixrep's (`sdr_v4_frames`)."""
    index = stems_index[stems_index["status"] == "ok"].set_index("track_id")
    methods = sorted(set(stems_index["method"]))
    scores: list[TrackScore] = []
    skipped: list[dict] = []
    tally = MusevalTally(use_museval)
    with_stems = 0
    silent: dict[str, list[str]] = {name: [] for name in STEMS}
    leakage: list[TrackScore] = []
    for row in split_rows(manifest, split).itertuples(index=False):
        try:
            if row.stems_dir is None or (isinstance(row.stems_dir, float) and np.isnan(row.stems_dir)):
                raise AudioError(row.path, "no true stems (stems_dir is null)")
            with_stems += 1
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
        for system, estimate in (("separated", separated), ("oracle", truth), ("baseline", baseline)):
            scores.append(tally.score(truth[..., :n], estimate, row.track_id, system))
        leakage.append(TrackScore(row.track_id, "separated", "leakage_db",
                                  leakage_db(separated[..., :n], mixture[:, :n])))
        leakage.append(TrackScore(row.track_id, "baseline", "leakage_db", leakage_db(baseline, mixture[:, :n])))
    result = summarise(scores, skipped, methods, split, silent)
    result["tracks_with_true_stems"] = with_stems
    if with_stems == 0:
        result["note"] = NO_STEMS_NOTE.format(split=split)
    result["silent_leakage_db"] = silent_leakage(leakage, silent)
    result["margin_over_baseline"] = margins(result)
    result["sdr_museval"] = museval_summary(scores)
    result["museval_skipped"] = tally.report()
    result["sdr_museval_source"] = (
        f"museval {_museval_version()} (museval.evaluate, mode v4, win = hop = 44100); mixrep's sdr_v4_frames "
        f"differed by at most {tally.max_abs_diff_db:.3g} dB over {tally.frames_compared} frames" if use_museval
        else "mixrep.separation.metrics.sdr_v4_frames (museval v4's SDR, equal to museval to 1e-6 dB in "
             "tests/test_separation_metrics.py); --museval computes it with museval itself")
    return result


def _museval_version() -> str:
    from importlib.metadata import version

    return version("museval")


def museval_summary(scores: list[TrackScore]) -> dict:
    """Per system: per stem the median over tracks of the per-track frame medians (skipped stems left out),
    the number of tracks each median is over, and the mean of the four medians (the SCNet / SiSEC 'avg')."""
    out: dict = {}
    for system in ("separated", "oracle", "baseline"):
        rows = np.array([s.values for s in scores if s.system == system and s.metric == "sdr_museval"])
        if rows.size == 0:
            continue
        medians, counts = {}, {}
        for i, name in enumerate(STEMS):
            valid = rows[:, i][~np.isnan(rows[:, i])]
            medians[name] = float(np.median(valid)) if valid.size else float("nan")
            counts[name] = int(valid.size)
        values = np.array(list(medians.values()))
        mean = float(np.mean(values)) if not np.isnan(values).any() else float("nan")
        out[system] = {"median": {k: json_float(v) for k, v in medians.items()}, "tracks": counts,
                       "mean_over_stems": json_float(mean)}
    return out


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
                  **{name: json_float(v) for name, v in zip(STEMS, s.values)}} for s in scores]
    tracks = sorted({s.track_id for s in scores})
    return {"split": split, "separated_method": methods, "silent_stems": silent,
            "silent_threshold_db": SILENT_DB, "num_tracks": len(tracks), "tracks": tracks,
            "summary": summary, "per_track": per_track, "skipped": skipped,
            "metrics": {"sdr": "MDX new SDR 10log10((|s|^2+1e-7)/(|s-s_hat|^2+1e-7)) over channels x samples",
                        "si_sdr": "scale-invariant SDR of the channel-stacked signal",
                        "sdr_museval": SDR_MUSEVAL}}


def json_float(value: float) -> float | str | None:
    """JSON has no NaN or infinity: a skipped value is null, an exact estimate's +inf (v4 SDR) is "inf"."""
    if np.isnan(value):
        return None
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def beats_baseline(result: dict, metric: str = "sdr") -> dict[str, bool]:
    """Per stem: is the separated system's mean margin over the baseline positive on the active tracks?"""
    return {name: m is not None and m["mean"] > 0 for name, m in margins(result, metric).items()}


def markdown_table(result: dict) -> str:
    """A small table: mean SDR and SI-SDR (dB) per system and stem."""
    label = {"separated": f"separated ({', '.join(result['separated_method'])})",
             "oracle": "oracle (true stems)", "baseline": "baseline (mixture / 4)"}
    if result["num_tracks"] == 0:
        return (f"Separation on the {result['split']} split: {result.get('note', 'no track could be scored')}."
                f"\n\n{len(result['skipped'])} tracks skipped (reasons in eval.json).\n")
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
    lines += museval_table(result)
    if result["skipped"]:
        lines += ["", f"Skipped {len(result['skipped'])} tracks (see eval.json)."]
    return "\n".join(lines) + "\n"


def museval_table(result: dict) -> list[str]:
    """eval.md lines: the museval-style SDR (BSS Eval v4, median of 1 s frames, median over tracks)."""
    table = result.get("sdr_museval") or {}
    if not table:
        return []
    label = {"separated": f"separated ({', '.join(result['separated_method'])})",
             "oracle": "oracle (true stems)", "baseline": "baseline (mixture / 4)"}

    def cell(value: float | str | None) -> str:
        return "n/a" if value is None else value if isinstance(value, str) else f"{value:.2f}"

    lines = ["", "museval-style SDR (BSS Eval v4: median over 1 s frames per track, then median over tracks, "
             "dB, the SiSEC / MUSDB18 aggregation; `avg` = the mean of the four medians, the aggregation of SCNet's "
             "published 9.00 dB on MUSDB18-HQ, which the whole-track SDR above is not comparable to). "
             + result.get("sdr_museval_source", "") + ":", "",
             "| system | " + " | ".join(STEMS) + " | avg |", "|---|" + "---:|" * (len(STEMS) + 1)]
    for system, values in table.items():
        cells = " | ".join(f"{cell(values['median'][name])} ({values['tracks'][name]})" for name in STEMS)
        lines.append(f"| {label[system]} | {cells} | {cell(values['mean_over_stems'])} |")
    skipped = result.get("museval_skipped", {})
    if skipped.get("count"):
        counts = ", ".join(f"{key}: {n}" for key, n in skipped["by_system_stem"].items())
        lines += ["", f"(n) = tracks in each median. Skipped {skipped['count']} (track, stem) pairs that museval "
                  f"cannot score (all-zero reference or estimate stem; museval raises on them): {counts}."]
    return lines
