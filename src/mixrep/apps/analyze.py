"""`analyze_file`: what the bundle's model says about one mix, computed chunk by chunk.

Per chunk of `chunk_s` seconds (30 s by default) the stems come from the bundle's separator
(`mixrep.separation.apply.separate_track`; each chunk is normalised on its own) or from the given stem files;
the chunk gets one feature row (`mixrep.features.extract_features`) and one embedding (the bundle's encoder),
and every `window_s` window (3 s) of it one feature row for the timeline. Only one chunk of audio is held at a
time, so memory does not grow with the file's length. Whole-track values: the chunk row itself for a file of one
chunk, else the per-column median of the chunk rows; the embedding is the length-weighted mean of the chunk
embeddings (as the encoder averages its own windows). The JSON written is documented in docs/analyze.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixrep.apps.bundle import Bundle
from mixrep.apps.inputs import InputInfo, iter_chunks, scan
from mixrep.apps import style
from mixrep.audio import AudioError
from mixrep.features import extract_features
from mixrep.features.columns import TARGETS
from mixrep.stems import SAMPLE_RATE, STEMS

SCHEMA = "mixrep.analyze/1"
TIMELINE_FEATURES = ("loudness_lufs", "rel_loudness_lu", "masking", "msr", "correlation", "active")
INTERVAL = ("0.05", "0.95")  # residual quantiles that bound the prediction interval (90 %)


@dataclass(frozen=True)
class AnalyzeSettings:
    chunk_s: float = 30.0
    window_s: float = 3.0
    top_k: int = 5
    progress: bool = True


def stem_paths(stems_dir: Path, name: str) -> list[Path]:
    """DIR/<name>/<stem>.wav (or .flac) for the four stems, in STEMS order."""
    folder = stems_dir / name
    paths = [next((p for p in (folder / f"{stem}.wav", folder / f"{stem}.flac") if p.is_file()), None)
             for stem in STEMS]
    missing = [f"{stem}.wav" for stem, p in zip(STEMS, paths) if p is None]
    if missing:
        raise AudioError(folder, f"given stems folder lacks {missing}")
    return [p for p in paths if p is not None]


def _stem_chunks(infos: list[InputInfo], chunk_s: float):
    """(start, (4, 2, n)) chunks of four stem files, cut to the shortest."""
    for parts in zip(*(iter_chunks(info, chunk_s) for info in infos)):
        n = min(p.shape[1] for _, p in parts)
        start, stems = parts[0][0], np.stack([p[:, :n] for _, p in parts])
        del parts  # one chunk in memory, not two
        yield start, stems


def _timeline_columns() -> list[str]:
    names = []
    for target in TARGETS:
        for feature in TIMELINE_FEATURES:
            family = "masking" if feature == "masking" else "stereo" if feature in ("msr", "correlation") else "dynamics"
            name = f"{family}.{target}.{feature}"
            if name in style.UNITS:
                names.append(name)
    return names


def analyze_file(path: str | Path, bundle: Bundle, stems_dir: str | Path | None = None,
                 settings: AnalyzeSettings | None = None) -> dict[str, Any]:
    """The analysis record of one mix (raises AudioError naming the file for unusable input)."""
    settings = settings or AnalyzeSettings()
    path = Path(path)
    info = scan(path, max(settings.window_s, style_min_seconds(bundle)))
    name = path.stem
    if stems_dir is not None:
        stem_infos = [scan(p, settings.window_s, allow_silent=True) for p in stem_paths(Path(stems_dir), name)]
        chunks = _stem_chunks(stem_infos, settings.chunk_s)
        source = f"given stems: {Path(stems_dir) / name}"
        total = min(i.output_frames for i in stem_infos)
    else:
        chunks = _separated_chunks(info, bundle, settings.chunk_s)
        source = "separated by the bundle's separator"
        total = info.output_frames
    columns = _timeline_columns()
    window = int(round(settings.window_s * SAMPLE_RATE))
    rows, weights, embeddings = [], [], []
    timeline: dict[str, list[float]] = {c: [] for c in columns}
    times: list[float] = []
    fs = bundle.feature_settings
    for start, stems in chunks:
        if stems.shape[-1] < window and rows:
            break  # a tail shorter than one window adds nothing measurable
        row = extract_features(stems, SAMPLE_RATE, fs)
        rows.append(row)
        weights.append(stems.shape[-1])
        embeddings.append(bundle.embed(stems))
        for k in range(stems.shape[-1] // window):
            w = extract_features(stems[..., k * window:(k + 1) * window], SAMPLE_RATE, fs)
            times.append((start + k * window) / SAMPLE_RATE)
            for c in columns:
                timeline[c].append(w[c])
        length = stems.shape[-1]
        del stems  # freed before the next chunk is read or separated
        if settings.progress:
            done = min(total, start + length)
            print(f"mixrep analyze: {path.name}: {done / SAMPLE_RATE:.0f}/{total / SAMPLE_RATE:.0f} s "
                  f"({100 * done / max(total, 1):.0f} %)", file=sys.stderr, flush=True)
    features = rows[0] if len(rows) == 1 else {c: float(np.median([r[c] for r in rows])) for c in rows[0]}
    z = np.average(np.stack(embeddings), axis=0, weights=np.asarray(weights, dtype=np.float64))
    return _record(path, info, source, features, z, times, timeline, bundle, settings)


def style_min_seconds(bundle: Bundle) -> float:
    """The encoder needs one segment of Mel frames."""
    return bundle.encoder.min_samples / SAMPLE_RATE


def _separated_chunks(info: InputInfo, bundle: Bundle, chunk_s: float):
    from mixrep.separation.apply import ApplySettings, separate_track

    loaded = bundle.separator()
    sep = bundle.settings.get("separation") or {}
    apply = ApplySettings.from_config(sep.get("inference"), int(bundle.settings.get("seed", 0)), device="cpu")
    for start, mix in iter_chunks(info, chunk_s):
        stems = separate_track(loaded.model, mix, apply)
        del mix
        yield start, stems


def _record(path: Path, info: InputInfo, source: str, features: dict[str, float], z: np.ndarray,
            times: list[float], timeline: dict[str, list[float]], bundle: Bundle,
            settings: AnalyzeSettings) -> dict[str, Any]:
    norms = bundle.norms
    matrix = bundle.reference_matrix
    styles = style.style_ranking(z, bundle.references, matrix)
    genre = styles[0]["genre"]
    devs = style.deviations(features, norms, genre)
    active = {s: timeline[f"dynamics.{s}.active"] for s in STEMS}
    masked = style.masked_time(timeline, active)
    residuals = norms["residuals"]
    score = float(bundle.regressor.predict(z[None])[0])
    info_reg = norms.get("regressor_info", {})
    summary = [d.text for d in devs if d.flagged]
    summary += [f"{s} masked {100 * f:.0f} % of the time (3-s windows with masking index > "
                f"{style.MASKED_THRESHOLD:g})" for s, f in masked.items() if f > 0]
    return {
        "schema": SCHEMA,
        "file": str(path), "name": path.stem,
        "input": {"sample_rate": info.sample_rate, "channels": info.channels, "duration_s": info.duration_s,
                  "subtype": info.subtype, "peak_dbfs": info.peak_dbfs, "rms_dbfs": info.rms_dbfs,
                  "notes": info.notes},
        "stems": source,
        "bundle": {"dir": str(bundle.directory), "run": bundle.settings.get("run"),
                   "seed": bundle.settings.get("seed")},
        "settings": {"chunk_s": settings.chunk_s, "window_s": settings.window_s},
        "features": features,
        "units": {c: style.UNITS[c] for c in features},
        "timeline": {"window_s": settings.window_s, "time_s": times, "columns": timeline},
        "masked_time_fraction": masked,
        "embedding": [float(v) for v in z],
        "quality": {"score": score, "low": score + residuals["quantiles"][INTERVAL[0]],
                    "high": score + residuals["quantiles"][INTERVAL[1]], "level": 0.9,
                    "interval": "score + the 5th / 95th percentile of the regressor's test-set residuals",
                    "residual_n": residuals["n"], "simulated_ratings": bool(info_reg.get("simulated", False)),
                    "target": info_reg.get("target", "")},
        "nearest_references": style.nearest_references(z, bundle.references, matrix, settings.top_k),
        "styles": styles,
        "nearest_style": genre,
        "style_norms": {c: norms["genres"][genre]["columns"][c] for c in features},
        "deviations": style.as_records(devs),
        "summary": summary,
    }
