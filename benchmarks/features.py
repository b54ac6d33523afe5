"""Speed and memory of the features stage on one 30 s, four-stem track (one core).

Measures, in the same run:
  * `extract_features` (the full feature set, mixrep.features),
  * a straightforward reference computing the same quantities the obvious way: pyloudnorm called for the
    integrated loudness of every target and once per 3 s short-term window, pyloudnorm's loudness range,
    and per-frame Python loops for the STFT band energies and the masking,
  * `mixrep.degrade.render_variant` on a recipe with several faults (the rendering the features rule
    runs before every variant).
Prints a table (seconds, x real time, ratio to the reference), agreement checks, and the peak RSS.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/features.py [--seconds 30] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, before numpy loads its BLAS

import argparse
import json
import resource
import time
import tracemalloc
from typing import Callable

import numpy as np
import pyloudnorm
import scipy.signal

from mixrep.features import extract_features
from mixrep.features.columns import BAND_NAMES, TARGETS
from mixrep.features.masking import band_weights, mel_filterbank
from mixrep.features.settings import FeatureSettings
from mixrep.features.spectral import band_matrix

RATE = 44100
FAULTS = [
    {"stem": "vocals", "effect": "gain", "params": {"gain_db": 4.0}},
    {"stem": "bass", "effect": "eq_peak", "params": {"freq_hz": 120.0, "gain_db": 6.0, "q": 1.0}},
    {"stem": "drums", "effect": "compress", "params": {"threshold_db": -30.0, "ratio": 4.0}},
    {"stem": "other", "effect": "lowpass", "params": {"cutoff_hz": 3000.0, "order": 8}},
    {"stem": "other", "effect": "width", "params": {"width": 1.8}},
    {"stem": "vocals", "effect": "pan", "params": {"position": 0.4}},
]


def make_track(seconds: float, seed: int = 0) -> np.ndarray:
    """Four band-limited, enveloped noise/tone stems (4, 2, N) float32: a stand-in for separated stems."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    bands = [(200, 4000), (40, 250), (60, 12000), (150, 8000)]
    stems = []
    for k, (low, high) in enumerate(bands):
        sos = scipy.signal.butter(4, [low, high], btype="bandpass", fs=RATE, output="sos")
        noise = scipy.signal.sosfilt(sos, rng.standard_normal((2, n)), axis=-1)
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * (0.3 + 0.2 * k) * t)
        stems.append(0.1 * noise * envelope)
    return np.stack(stems).astype(np.float32)


def timed(function: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (this process) of `repeats` calls, and the last result.

    On a shared machine the CPU time is the fair "one core" figure: it does not count the time the
    process waited for a core.
    """
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_wall, best_cpu, result


def traced_peak_mib(function: Callable[[], object]) -> float:
    """Peak of the memory allocated during one call (tracemalloc sees numpy's buffers), MiB."""
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def reference_features(stems: np.ndarray, settings: FeatureSettings) -> dict[str, float]:
    """The obvious implementation of the loudness, spectral and masking features (no vectorisation)."""
    out: dict[str, float] = {}
    signals = {**{name: stems[i] for i, name in enumerate(TARGETS[:-1])}, "mix": stems.sum(axis=0)}
    meter = pyloudnorm.Meter(RATE, filter_class="DeMan")
    window_meter = pyloudnorm.Meter(RATE, filter_class="DeMan", block_size=3.0)
    window, hop = 3 * RATE, RATE // 10
    n_fft, step = settings.n_fft, settings.hop
    w = scipy.signal.get_window("hann", n_fft)
    scale = np.full(n_fft // 2 + 1, 2.0)
    scale[0] = scale[-1] = 1.0
    scale /= n_fft * np.sum(w ** 2)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    members = band_matrix(freqs, RATE)
    mel, centres = mel_filterbank(n_fft, RATE, settings.n_mels, settings.mel_fmin_hz, settings.mel_fmax_hz)
    weights = band_weights(centres, settings.band_weighting)
    mel_frames: dict[str, list[np.ndarray]] = {}
    for name, x in signals.items():
        data = x.T.astype(np.float64)
        out[f"{name}.loudness"] = meter.integrated_loudness(data)
        short_term = [window_meter.integrated_loudness(data[s:s + window])
                      for s in range(0, data.shape[0] - window + 1, hop)]
        out[f"{name}.st_median"] = float(np.median([v for v in short_term if v > -70]))
        out[f"{name}.lra"] = meter.loudness_range(data)
        mean_power = np.zeros(freqs.size)
        frames = []
        count = 0
        for start in range(0, x.shape[1] - n_fft + 1, step):
            power = np.zeros(freqs.size)
            for channel in x:
                spectrum = np.fft.rfft(channel[start:start + n_fft] * w)
                power += np.abs(spectrum) ** 2 * scale / 2.0
            mean_power += power
            frames.append(power @ mel)
            count += 1
        mean_power /= count
        for b, band in enumerate(BAND_NAMES):
            out[f"{name}.band{band}"] = max(float(10 * np.log10(members[b] @ mean_power + 1e-30)), -120.0)
        mel_frames[name] = frames
    stems_order = TARGETS[:-1]
    for i, name in enumerate(stems_order):
        numerator = denominator = 0.0
        for t in range(len(mel_frames[name])):
            levels = [10 * np.log10(np.maximum(mel_frames[s][t], 1e-30)) for s in stems_order]
            frame_db = 10 * np.log10(max(float(np.sum(mel_frames[name][t])), 1e-30))
            if frame_db <= settings.activity_threshold_db:
                continue
            top = np.max(levels[i])
            for k in range(len(weights)):
                if levels[i][k] < top - settings.band_range_db:
                    continue
                others = max(levels[j][k] for j in range(len(stems_order)) if j != i)
                delta = levels[i][k] - others
                mu = 1.0 / (1.0 + np.exp(-(settings.masking_beta_db - delta) / settings.masking_tau_db))
                numerator += weights[k] * mu
                denominator += weights[k]
        out[f"{name}.masking"] = numerator / denominator if denominator else 0.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-reference", action="store_true", help="only time the fast paths")
    args = parser.parse_args()
    from mixrep.degrade import render_variant

    settings = FeatureSettings()
    stems = make_track(args.seconds)
    effects = json.dumps(FAULTS)
    extract_features(stems, RATE, settings)  # warm caches (filter design, imports)

    rows = []
    features_wall, features_cpu, row = timed(lambda: extract_features(stems, RATE, settings), args.repeats)
    features_peak = traced_peak_mib(lambda: extract_features(stems, RATE, settings))
    render_wall, render_cpu, rendered = timed(lambda: render_variant(stems, effects, RATE), args.repeats)
    rows.append(("extract_features (full set)", features_wall, features_cpu))
    rows.append(("render_variant (6 faults)", render_wall, render_cpu))
    rows.append(("render + extract (one variant)", render_wall + features_wall, render_cpu + features_cpu))
    rss_fast = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reference_cpu = None
    if not args.skip_reference:
        reference_wall, reference_cpu, reference = timed(lambda: reference_features(stems, settings), 1)
        rows.append(("straightforward reference", reference_wall, reference_cpu))

    print(f"one {args.seconds:g} s track, 4 stereo stems at {RATE} Hz, best of {args.repeats}, 1 thread; "
          f"x real time and ratios use CPU seconds")
    print(f"{'stage':32s} {'wall s':>8s} {'CPU s':>8s} {'x real time':>12s} {'vs reference':>13s}")
    for name, wall, cpu in rows:
        ratio = f"{reference_cpu / cpu:12.1f}x" if reference_cpu and name.startswith("extract") else ""
        print(f"{name:32s} {wall:8.3f} {cpu:8.3f} {args.seconds / cpu:11.1f}x {ratio:>13s}")
    print(f"memory: extract_features allocates at most {features_peak:.0f} MiB (tracemalloc peak); "
          f"process max RSS {rss_fast:.0f} MiB before the reference, "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB at the end "
          f"(both include the imports and the generated track)")
    if not args.skip_reference:
        worst = {
            "integrated loudness (LU)": max(abs(row[f"dynamics.{t}.loudness_lufs"] - reference[f"{t}.loudness"])
                                            for t in TARGETS),
            "median short-term (LU)": max(abs(row[f"dynamics.{t}.st_loudness_median_lufs"]
                                              - reference[f"{t}.st_median"]) for t in TARGETS),
            "loudness range (LU)": max(abs(row[f"dynamics.{t}.lra_lu"] - reference[f"{t}.lra"]) for t in TARGETS),
            "band energies (dB)": max(abs(row[f"spectral.{t}.band{b}_db"] - reference[f"{t}.band{b}"])
                                      for t in TARGETS for b in BAND_NAMES),
            "masking M_i": max(abs(row[f"masking.{s}.masking"] - reference[f"{s}.masking"]) for s in TARGETS[:-1]),
        }
        print("agreement with the reference (largest difference over the 5 targets):")
        for name, value in worst.items():
            print(f"  {name:28s} {value:.4f}")
    assert rendered.shape == stems.shape


if __name__ == "__main__":
    main()
