"""Seconds and peak memory of `mixrep analyze` on a 30 s, a 5-minute and a 20-minute file (2 cores).

The bundle is the tiny random-weight one of `tests/fixtures/toy_bundle.py` and the stems are given (`--stems`), so the
numbers measure reading, feature extraction, the timeline and the encoder, chunk by chunk (30 s chunks), not a
real separator. Each run is a fresh subprocess; its peak RSS is VmHWM from /proc/self/status read at the end of
that process. Flat memory means the 20-minute row's peak RSS is about the 30 s row's.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/analyze.py [--work DIR] [--durations 30 300 1200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/fixtures: the toy corpus / bundle

CHILD = """
import json, sys, torch
torch.set_num_threads(2)
from mixrep.cli import main
code = main(sys.argv[1:])
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({'code': code, 'vmhwm_kb': hwm}))
"""


def write_long(path: Path, block, minutes: float, rate: int = 44100) -> None:
    """Repeat a block (2, n) of audio until `minutes`, streaming to a 16-bit WAV."""
    total = int(minutes * 60 * rate)
    with sf.SoundFile(str(path), "w", rate, 2, subtype="PCM_16") as handle:
        done = 0
        while done < total:
            part = block[:, :total - done]
            handle.write(part.T)
            done += part.shape[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--durations", type=float, nargs="+", default=[30.0, 300.0, 1200.0])
    args = parser.parse_args()
    from fixtures.toy_bundle import build_toy_bundle, toy_stems
    from mixrep.stems import STEMS

    work = Path(args.work or tempfile.mkdtemp(prefix="mixrep-analyze-bench-"))
    bundle, _ = build_toy_bundle(work)
    block = toy_stems(11, 60.0, "rock")
    rows = []
    for seconds in args.durations:
        name = f"track-{int(seconds)}s"
        stem_dir = work / "stems" / name
        stem_dir.mkdir(parents=True, exist_ok=True)
        for stem, audio in zip(STEMS, block):
            write_long(stem_dir / f"{stem}.wav", audio, seconds / 60)
        write_long(work / f"{name}.wav", block.sum(0), seconds / 60)
        env = {**os.environ, "OMP_NUM_THREADS": "2"}
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", CHILD, "analyze", str(work / f"{name}.wav"), "--stems",
                                 str(work / "stems"), "--bundle", str(bundle), "-o", str(work / "out"), "--quiet"],
                                capture_output=True, text=True, env=env, check=False)
        elapsed = time.perf_counter() - started
        last = json.loads(result.stdout.strip().splitlines()[-1])
        if last["code"] != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        rows.append({"duration_s": seconds, "seconds": elapsed, "peak_rss_mb": last["vmhwm_kb"] / 1024,
                     "realtime_factor": seconds / elapsed})
        for stem in STEMS:  # keep the disk use to one file's stems at a time
            (stem_dir / f"{stem}.wav").unlink()
    print("| file | wall time (s) | x real time | peak RSS (MB) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['duration_s'] / 60:g} min | {row['seconds']:.1f} | {row['realtime_factor']:.1f} | "
              f"{row['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
