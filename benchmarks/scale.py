"""How the workflow's plan scales: `snakemake -n` of an FMA-large-sized DAG, with and without the SLURM profile.

No audio is read or written. For each size a tmp working directory gets what the DAG needs before the per-shard
fan-out, faked as existing files: a minimal FMA `fma_metadata/tracks.csv` under a fake `dataset.root`, a small
file as `separation.checkpoint`, and the manifest checkpoint's outputs (manifest.parquet with the manifest's
columns, shards.json, summary.txt) written directly, i.e. Snakemake starts with the checkpoint already done
(the case where group jobs used to be merged a second time). Then `snakemake -n` is timed (wall, CPU of the
snakemake process and its children, peak RSS from wait4's rusage of that one child).

From Snakemake's own dry-run output it reads the job-stats table (jobs per rule, whatever the rules are
called) and every job's `threads:` and `resources:` lines, so the largest cores / mem_mb / GPUs asked of one
job come from the plan itself. A plan is "the same" when both dry runs of a size give equal jobs per rule, and
equal to what `mixrep.plan` computes from shards.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale.py [--tracks 10000 106574] [--timeout 300]

Prints a table and, as its LAST line, one JSON object for the largest size with the SLURM profile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mixrep.datasets.manifest import MANIFEST_SCHEMA  # noqa: E402
from mixrep.datasets.records import MANIFEST_COLUMNS  # noqa: E402
from mixrep.datasets.splits import cut_shards  # noqa: E402

FMA_LARGE_TRACKS = 106_574
FMA_LARGE_CONFIG = REPO / "workflow" / "configs" / "fma_large.yaml"
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
GENRES = ("Rock", "Electronic", "Experimental", "Hip-Hop", "Folk", "Instrumental", "Pop", "International")
# One node: what no single job may ask for (docs/cluster.md).
NODE_CORES, NODE_MEM_MB, NODE_GPUS = 64, 512_000, 1


@dataclass
class DryRun:
    """One timed `snakemake -n` and what its output says."""

    tracks: int
    shards: int
    profile: bool
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    jobs: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)
    max_job_cores: int = 0
    max_job_mem_mb: int = 0
    max_job_gpus: int = 0
    groups: int = 0
    tail: str = ""


def write_fma_root(root: Path) -> None:
    """A tracks.csv FMA's loader accepts (two-level header); one row: the manifest that uses it is faked."""
    meta = root / "fma_metadata"
    meta.mkdir(parents=True, exist_ok=True)
    columns = pd.MultiIndex.from_tuples([("set", "subset"), ("set", "split"), ("track", "genre_top"),
                                         ("track", "duration")])
    frame = pd.DataFrame([["large", "training", "Rock", 30]], columns=columns, index=pd.Index([2], name="track_id"))
    frame.to_csv(meta / "tracks.csv")


def write_manifest_outputs(results: Path, root: Path, tracks: int, shard_size: int) -> dict[str, list[str]]:
    """manifest.parquet / shards.json / summary.txt as the manifest checkpoint writes them, for `tracks` ok tracks."""
    out = results / "manifest"
    out.mkdir(parents=True, exist_ok=True)
    ids = [f"{k + 2:06d}" for k in range(tracks)]
    splits = ["train", "val", "test"]
    table = pd.DataFrame({
        "track_id": ids, "source": "fma", "path": [str(root / "fma_large" / t[:3] / f"{t}.mp3") for t in ids],
        "genre": [GENRES[k % len(GENRES)] for k in range(tracks)],
        "split": [splits[0] if k % 10 < 8 else splits[1 + k % 2] for k in range(tracks)],
        "duration_s": 30.0, "sample_rate": 44100, "channels": 2, "status": "ok", "reason": "",
        "stems_dir": None, "notes": None, "shard": None,
    })
    shards = cut_shards(ids, shard_size)
    shard_of = {tid: name for name, members in shards.items() for tid in members}
    table["shard"] = table["track_id"].map(shard_of)
    arrow = pa.Table.from_pandas(table.loc[:, list(MANIFEST_COLUMNS)], schema=MANIFEST_SCHEMA, preserve_index=False)
    pq.write_table(arrow, out / "manifest.parquet")
    (out / "shards.json").write_text(json.dumps(shards))
    (out / "summary.txt").write_text(f"manifest: source fma (faked by benchmarks/scale.py)\nok: {tracks}\n")
    return shards


def prepare(workdir: Path, tracks: int, shard_size: int) -> tuple[Path, dict[str, list[str]]]:
    """The tmp working directory and the config overlay for one size; returns (overlay, shards)."""
    root = workdir / "fma"
    write_fma_root(root)
    checkpoint = workdir / "scnet.th"
    checkpoint.write_bytes(b"fake checkpoint: never loaded by a dry run")
    overlay = workdir / "scale.yaml"
    overlay.write_text(json.dumps({"shard_size": shard_size, "dataset": {"root": str(root)},
                                   "separation": {"checkpoint": str(checkpoint)}}))
    # outputs newer than every input: nothing before the fan-out is planned again
    time.sleep(0.01)
    shards = write_manifest_outputs(workdir / "results", root, tracks, shard_size)
    return overlay, shards


_STATS = re.compile(r"^Job stats:\n(?:.*\n){2}((?:.*\n)*?)total\s+(\d+)", re.MULTILINE)
_THREADS = re.compile(r"^\s+threads: (\d+)", re.MULTILINE)
_RESOURCES = re.compile(r"^\s+resources: (.*)$", re.MULTILINE)


def parse_dry_run(text: str, run: DryRun) -> DryRun:
    """Jobs per rule from the job-stats table; largest threads / mem_mb / GPUs over the job descriptions."""
    match = _STATS.search(text)
    if match:
        for line in match.group(1).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                run.per_rule[parts[0]] = int(parts[1])
        run.jobs = int(match.group(2))
    # a job description without a `threads:` line runs one thread
    run.max_job_cores = max((int(t) for t in _THREADS.findall(text)), default=1 if run.jobs else 0)
    for line in _RESOURCES.findall(text):
        values = dict(item.split("=", 1) for item in line.split(", ") if "=" in item)
        if values.get("mem_mb", "").isdigit():
            run.max_job_mem_mb = max(run.max_job_mem_mb, int(values["mem_mb"]))
        gpus = int(values["gpu"]) if values.get("gpu", "").isdigit() else 0
        gres = re.search(r"gpu(?::[A-Za-z0-9_-]+)?:(\d+)", values.get("gres", ""))
        run.max_job_gpus = max(run.max_job_gpus, gpus, int(gres.group(1)) if gres else 0)
    run.groups = len(re.findall(r"^group job ", text, re.MULTILINE))
    return run


def dry_run(workdir: Path, overlay: Path, tracks: int, shards: int, profile: bool, timeout: float) -> DryRun:
    """Time one `snakemake -n` (its own process group, killed at `timeout`), rusage of that child only."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
               "-n", "--configfile", str(FMA_LARGE_CONFIG), str(overlay)]
    if profile:
        command[1:1] = ["--profile", str(SLURM_PROFILE)]
    log = workdir / f"dryrun-{'slurm' if profile else 'plain'}.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    text = log.read_text()
    run = DryRun(tracks, shards, profile, proc.returncode, wall, usage.ru_utime + usage.ru_stime,
                 usage.ru_maxrss / 1024, tail="\n".join(text.splitlines()[-5:]))
    return parse_dry_run(text, run)


def planned(shards: dict[str, list[str]], config_files: list[Path]) -> dict[str, int]:
    """Jobs per rule as mixrep.plan computes them (None when the module is not there)."""
    try:
        from mixrep.plan import jobs_per_rule, load_config
    except ImportError:
        return {}
    return jobs_per_rule(load_config(config_files), len(shards), done=("corpus", "manifest"))


def table(runs: list[DryRun]) -> str:
    rules = sorted({rule for run in runs for rule in run.per_rule})
    head = ["tracks", "shards", "profile", "rc", "jobs", "dry-run s", "cpu s", "RSS MB", "max cores", "max mem_mb",
            "max GPUs", "groups"]
    rows = [[run.tracks, run.shards, "slurm" if run.profile else "-", run.returncode, run.jobs, f"{run.wall_s:.1f}",
             f"{run.cpu_s:.1f}", f"{run.peak_rss_mb:.0f}", run.max_job_cores, run.max_job_mem_mb, run.max_job_gpus,
             run.groups] for run in runs]
    lines = [" | ".join(map(str, head)), *(" | ".join(map(str, row)) for row in rows), "", "jobs per rule:",
             " | ".join(["rule", *(f"{r.tracks}/{'slurm' if r.profile else '-'}" for r in runs)])]
    lines += [" | ".join([rule, *(str(r.per_rule.get(rule, 0)) for r in runs)]) for rule in rules]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[10_000, FMA_LARGE_TRACKS])
    parser.add_argument("--shard-size", type=int, default=None, help="default: shard_size of the FMA-large config")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per dry run (killed after)")
    parser.add_argument("--no-plain", action="store_true", help="only the dry runs with the SLURM profile")
    args = parser.parse_args(argv)
    import yaml

    shard_size = args.shard_size or int(yaml.safe_load(FMA_LARGE_CONFIG.read_text())["shard_size"])
    runs: list[DryRun] = []
    checks: list[str] = []
    for tracks in args.tracks:
        with tempfile.TemporaryDirectory(prefix=f"mixrep-scale-{tracks}-") as tmp:
            workdir = Path(tmp)
            overlay, shards = prepare(workdir, tracks, shard_size)
            pair = [dry_run(workdir, overlay, tracks, len(shards), profile, args.timeout)
                    for profile in ([True] if args.no_plain else [False, True])]
            for run in pair:
                print(f"# {tracks} tracks, profile {run.profile}: rc {run.returncode}, {run.wall_s:.1f} s",
                      file=sys.stderr)
                if run.returncode != 0:
                    print(run.tail, file=sys.stderr)
            runs += pair
            expected = planned(shards, [REPO / "config.yaml", FMA_LARGE_CONFIG, overlay])
            counts = [run.per_rule for run in pair] + ([expected] if expected else [])
            same = all(c == counts[0] for c in counts)
            checks.append(f"{tracks} tracks: jobs per rule {'equal' if same else 'DIFFER'} across "
                          f"{'plain / slurm dry runs' if len(pair) == 2 else 'the slurm dry run'}"
                          f"{' and mixrep.plan' if expected else ''}")
            over = [run for run in pair if run.max_job_cores > NODE_CORES or run.max_job_mem_mb > NODE_MEM_MB
                    or run.max_job_gpus > NODE_GPUS]
            checks.append(f"{tracks} tracks: every job within one node ({NODE_CORES} cores, {NODE_MEM_MB} MB, "
                          f"{NODE_GPUS} GPU): {'yes' if not over else 'NO'}")
    print(f"shard_size {shard_size} (workflow/configs/fma_large.yaml)")
    print(table(runs))
    print("\n".join(checks))
    final = [run for run in runs if run.profile] or runs
    last = max(final, key=lambda run: run.tracks)
    summary = {"tracks": last.tracks, "jobs": last.jobs, "dry_run_s": round(last.wall_s, 1),
               "max_job_cores": last.max_job_cores, "max_job_mem_mb": last.max_job_mem_mb,
               "max_job_gpus": last.max_job_gpus, "peak_rss_mb": round(last.peak_rss_mb),
               "shard_size": shard_size, "returncode": last.returncode}
    print(json.dumps(summary))
    return 0 if all(run.returncode == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
