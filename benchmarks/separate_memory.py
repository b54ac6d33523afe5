"""Peak memory of separating one track vs its length: streaming `separate_file` vs the whole-track path.

Each row runs in a fresh subprocess that reads its own peak resident memory (VmHWM of /proc/self/status)
at the end; `getrusage(RUSAGE_CHILDREN)` of the parent would not do (a forked child inherits the parent's
peak). Inputs are generated stereo noise written block by block with soundfile (float WAV or 16-bit FLAC,
44.1 kHz); the separator is a tiny random-weight SCNet (speed and memory of the buffers do not depend on the
weights; the activations of one batch of chunks are what a real model adds, once, on top). Settings:
config defaults (11 s chunks, overlap 0.25, `--batch` 2 chunks per forward pass), stems written as flac24;
`--preset cpu` measures mixrep's CPU default model instead (slower; what the `separate` rule runs).

Modes: `stream` = `mixrep.separation.stream.separate_file` (the shard job's path); `whole` =
`load_audio` + `separate_track` + `write_stems` (the path before streaming, for contrast).

    python benchmarks/separate_memory.py                         # stream 1 and 20 min, whole 1 and 5 min
    python benchmarks/separate_memory.py --minutes 1 5 --whole 1 --formats wav
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

CHILD = r"""
import json, sys, time
from pathlib import Path
import torch
from mixrep.separation.apply import ApplySettings, separate_track
from mixrep.separation.scnet import PRESETS, SCNet
path, out, mode, preset, batch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
torch.set_num_threads(1)
torch.manual_seed(0)
tiny = dict(dims=[4, 8, 16, 32], nfft=1024, hop_size=256, win_size=1024, conv_depths=[1, 1, 1], num_dplayer=2)
model = SCNet(**(tiny if preset == "tiny" else PRESETS[preset])).eval()
settings = ApplySettings(device="cpu", batch_size=batch)
start = time.perf_counter()
if mode == "stream":
    from mixrep.separation.stream import separate_file
    frames = separate_file(model, path, out, settings, "flac24")
else:
    from mixrep.audio import load_audio, write_stems
    stems = separate_track(model, load_audio(path)[0], settings)
    write_stems(out, stems, stem_format="flac24")
    frames = stems.shape[-1]
wall = time.perf_counter() - start
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
print(json.dumps({"wall_s": wall, "frames": int(frames), "peak_mb": int(status["VmHWM"].split()[0]) / 1024}))
"""

RATE = 44_100


def write_input(path: Path, minutes: float, fmt: str) -> None:
    """Stereo noise (std 0.1) written 10 s at a time, so the generator's memory stays small."""
    rng = np.random.default_rng(0)
    total = int(minutes * 60 * RATE)
    subtype = "FLOAT" if fmt == "wav" else "PCM_16"
    with sf.SoundFile(str(path), "w", RATE, 2, subtype=subtype, format=fmt.upper()) as handle:
        for start in range(0, total, 10 * RATE):
            n = min(10 * RATE, total - start)
            handle.write(np.clip(rng.normal(0, 0.1, size=(n, 2)), -0.99, 0.99).astype(np.float32))


def measure(minutes: float, fmt: str, mode: str, work: Path, preset: str, batch: int) -> dict:
    source = work / f"mix_{minutes:g}.{fmt}"
    if not source.exists():
        write_input(source, minutes, fmt)
    out = work / f"out_{mode}_{fmt}_{minutes:g}"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(source), str(out), mode, preset, str(batch)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"rc {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 20.0], help="lengths, streaming")
    parser.add_argument("--whole", type=float, nargs="*", default=[1.0, 5.0], help="lengths, whole-track path")
    parser.add_argument("--formats", nargs="+", default=["wav", "flac"], choices=["wav", "flac"])
    parser.add_argument("--preset", default="tiny", help="tiny (random, fast) or a key of scnet.PRESETS")
    parser.add_argument("--batch", type=int, default=2, help="chunks per forward pass (config default 2)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for fmt in args.formats:
            for mode, lengths in (("stream", args.minutes), ("whole", args.whole)):
                for minutes in lengths:
                    rows.append((fmt, mode, minutes, measure(minutes, fmt, mode, work, args.preset, args.batch)))
            for path in work.glob(f"mix_*.{fmt}"):
                path.unlink()
    print(f"Peak RSS (VmHWM, read by each child) of separating one track; {args.preset} random SCNet, "
          f"batch {args.batch}, 1 thread, flac24 out")
    print("| input | mode | minutes | wall_s | peak_MB | peak / shortest |")
    print("|---|---|---|---|---|---|")
    for fmt, mode, minutes, result in rows:
        if "error" in result:
            print(f"| {fmt} | {mode} | {minutes:g} | failed: {result['error']} | | |")
            continue
        shortest = min((r for f, m, _, r in rows if f == fmt and m == mode and "peak_mb" in r),
                       key=lambda r: r["frames"])
        print(f"| {fmt} | {mode} | {minutes:g} | {result['wall_s']:.1f} | {result['peak_mb']:.0f} | "
              f"{result['peak_mb'] / shortest['peak_mb']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
