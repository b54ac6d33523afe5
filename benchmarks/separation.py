"""Speed and memory of SCNet inference on CPU vs input length (benchmarks/separation.py).

Every (model, length) runs in its own subprocess, so its peak resident memory (`resource.getrusage`
ru_maxrss of the child: the whole process, weights, input, output buffers and activations) is its own.
Rows: mixrep's CPU default model and the published small model, separated with the chunked inference of
`mixrep.separation.apply` (config defaults: 11 s chunks, overlap 0.25, 2 chunks per batch), plus the
straightforward reference: one unchunked forward pass over the whole input (shortest length only).
Ratios: real-time factor (wall / audio seconds), memory against the same model at the shortest length
(bounded inference: grows only by whole-track buffers, ~180 MB per audio minute measured) and against the unchunked pass.
Weights are random: speed and memory do not depend on their values.

    python benchmarks/separation.py                    # 1, 5, 10 minutes (long on a small CPU)
    python benchmarks/separation.py --cap small:1      # the published small model on 1 minute only
    python benchmarks/separation.py --minutes 0.25 0.5 1 --threads 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from mixrep.separation.apply import ApplySettings, separate_track
from mixrep.separation.scnet import PRESETS, SCNet
preset, minutes, threads, mode = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
torch.manual_seed(0)
model = SCNet(**PRESETS[preset]).eval()
n = int(minutes * 60 * 44100)
mix = (np.random.default_rng(0).normal(0, 0.1, size=(2, n))).astype(np.float32)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "chunked":
    out = separate_track(model, mix, ApplySettings(device="cpu"))
else:
    with torch.inference_mode():
        out = model(torch.from_numpy(mix)[None])
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall_s": wall, "peak_mb": peak / 1024, "before_mb": base / 1024}))
"""


def measure(preset: str, minutes: float, threads: int, mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, preset, str(minutes), str(threads), mode],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument("--presets", nargs="+", default=["cpu", "small"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cap", nargs="*", default=[], metavar="PRESET:MINUTES",
                        help="run PRESET only on lengths up to MINUTES (a slow model on a small CPU)")
    args = parser.parse_args()
    caps = {}
    for item in args.cap:
        preset, _, minutes = item.partition(":")
        try:
            caps[preset] = float(minutes)
        except ValueError:
            parser.error(f"--cap {item!r}: expected PRESET:MINUTES, e.g. small:1")

    rows = []
    shortest = min(args.minutes)
    for preset in args.presets:
        reference = measure(preset, shortest, args.threads, "unchunked")
        rows.append((preset, "unchunked", shortest, reference))
        for minutes in args.minutes:
            if minutes > caps.get(preset, float("inf")):
                continue
            rows.append((preset, "chunked", minutes, measure(preset, minutes, args.threads, "chunked")))

    print(f"SCNet inference on CPU, {args.threads} threads, torch {torch.__version__}; peak = ru_maxrss of a "
          "subprocess per row")
    header = ("model", "mode", "minutes", "wall_s", "RTF", "RTF/cpu", "peak_MB", "MB/shortest", "MB/unchunked")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    by_key = {(p, m, mi): r for p, m, mi, r in rows}
    for preset, mode, minutes, result in rows:
        if "error" in result:
            print(f"| {preset} | {mode} | {minutes:g} | failed: {result['error']} |")
            continue
        rtf = result["wall_s"] / (minutes * 60)
        cpu_row = by_key.get(("cpu", mode, minutes), {})
        rtf_ratio = rtf / (cpu_row["wall_s"] / (minutes * 60)) if "wall_s" in cpu_row else float("nan")
        first = by_key.get((preset, "chunked", shortest), {})
        unchunked = by_key.get((preset, "unchunked", shortest), {})
        mem_first = result["peak_mb"] / first["peak_mb"] if "peak_mb" in first else float("nan")
        mem_ref = result["peak_mb"] / unchunked["peak_mb"] if "peak_mb" in unchunked else float("nan")
        print(f"| {preset} | {mode} | {minutes:g} | {result['wall_s']:.1f} | {rtf:.3f} | {rtf_ratio:.2f} | "
              f"{result['peak_mb']:.0f} | {mem_first:.2f} | {mem_ref:.2f} |")
    print("GPU rows: not measured (no GPU on this machine).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
