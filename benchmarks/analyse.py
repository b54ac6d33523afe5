"""Seconds and peak memory of one `mixrep analyse` shard job on a 1-minute and a 20-minute track.

Stems are generated with numpy (noise with a slow level envelope, written block by block as 16-bit WAV, so
generating them holds one block, not the track). Each job runs in its own process, which reports its own
VmHWM from /proc/self/status at exit (getrusage/wait4 of children would inherit this parent's peak across
fork). Settings are the defaults (config.yaml): 8 variants + the reference, analysis.excerpt_s = 12 s.
A last row runs the 1-minute track with `excerpt_s: null` (the whole track, as degrade/features/mels did)
to show what the excerpt bounds. The analyse rule's `resources: mem_mb` is set from these peaks.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/analyse.py [--minutes 1 20] [--keep DIR]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

from mixrep.stems import SAMPLE_RATE, STEMS

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
from mixrep.analyse.cli import main
t = time.perf_counter()
code = main(sys.argv[1:])
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
print(f'BENCH {time.perf_counter() - t:.2f} {int(hwm) / 1024:.1f}', flush=True)
sys.exit(code)
"""


def write_track(stem_dir: Path, seconds: float, seed: int, block_s: float = 30.0) -> None:
    """Four stereo stems of `seconds`, generated and written `block_s` at a time."""
    stem_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    total = int(seconds * SAMPLE_RATE)
    files = [sf.SoundFile(str(stem_dir / f"{name}.wav"), "w", SAMPLE_RATE, 2, "PCM_16") for name in STEMS]
    try:
        for lo in range(0, total, int(block_s * SAMPLE_RATE)):
            n = min(int(block_s * SAMPLE_RATE), total - lo)
            t = (lo + np.arange(n)) / SAMPLE_RATE
            for k, handle in enumerate(files):
                envelope = 0.05 * (1.2 + np.sin(2 * np.pi * t / (3.0 + k)))
                handle.write((envelope[:, None] * rng.standard_normal((n, 2))).astype(np.float32))
    finally:
        for handle in files:
            handle.close()


def run_job(root: Path, name: str, excerpt_s: float | None) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, last log line) of `mixrep analyse` on the shard at root/name."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    settings = {"seed": 0, "shard_size": 1, **{k: config[k] for k in ("degrade", "features", "pretrain")},
                "analysis": {"excerpt_s": excerpt_s}}
    out = root / f"out-{name}-{excerpt_s}"
    argv = ["--stems", str(root / name / "index.parquet"), "--settings", json.dumps(settings)]
    for flag, path in (("recipes", "recipes.parquet"), ("rejected", "rejected.csv"), ("features", "f.parquet"),
                       ("features-rejected", "f.rejected.csv"), ("segments", "seg.parquet"), ("mels", "m.npz")):
        argv += [f"--{flag}", str(out / path)]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"analyse failed on {name}:\n{done.stderr[-3000:]}")
    seconds, peak = next(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("BENCH"))
    summary = next(line for line in done.stderr.splitlines() if line.startswith("analyse:"))
    return float(seconds), float(peak), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 20.0])
    parser.add_argument("--keep", default=None, help="folder for the generated stems (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        rows = []
        for minutes in args.minutes:
            name = f"track-{minutes:g}min"
            write_track(root / name / "stems", minutes * 60, seed=int(minutes))
            pd.DataFrame([{"track_id": name, "stem_dir": str(root / name / "stems"), "method": "oracle",
                           "num_samples": int(minutes * 60 * SAMPLE_RATE)}]).to_parquet(root / name / "index.parquet")
            rows.append((minutes, 12.0, *run_job(root, name, 12.0)))
        first = f"track-{args.minutes[0]:g}min"
        rows.append((args.minutes[0], None, *run_job(root, first, None)))
    print(f"{'track':>8} {'excerpt_s':>10} {'seconds':>8} {'peak RSS MiB':>13}  log")
    for minutes, excerpt, seconds, peak, summary in rows:
        print(f"{minutes:>6g} m {str(excerpt):>10} {seconds:>8.1f} {peak:>13.1f}  {summary[:90]}")
    bounded = [peak for _, excerpt, _, peak, _ in rows if excerpt is not None]
    print(f"peak ratio longest / shortest track at excerpt_s 12: {max(bounded) / min(bounded):.3f}")


if __name__ == "__main__":
    main()
