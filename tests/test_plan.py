"""`mixrep plan`: its jobs per rule are what `snakemake -n` plans; its disk is tracks x the documented constants."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixrep.datasets.manifest import MANIFEST_SCHEMA
from mixrep.datasets.records import MANIFEST_COLUMNS
from mixrep.datasets.splits import cut_shards
from mixrep.plan import MEL_BANDS, MEL_BYTES, MEL_HOP, STEM_BYTES_PER_S, jobs_per_rule, load_config, main, make_plan
from mixrep.stems import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config.test.yaml"


def fake_manifest(workdir: Path, tracks: int, shard_size: int, seconds: float) -> dict[str, list[str]]:
    """The manifest checkpoint's outputs (and the corpus it read) as if it had run: no audio."""
    corpus = workdir / "results" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "metadata.parquet").write_bytes(b"")
    time.sleep(0.05)  # outputs newer than their input
    out = workdir / "results" / "manifest"
    out.mkdir(parents=True)
    ids = [f"syn-rock-{k:03d}" for k in range(tracks)]
    shards = cut_shards(ids, shard_size)
    shard_of = {tid: name for name, members in shards.items() for tid in members}
    table = pd.DataFrame({"track_id": ids, "source": "synthetic", "path": "x.wav", "genre": "rock",
                          "split": [("train", "val", "test")[k % 3] for k in range(tracks)], "duration_s": seconds,
                          "sample_rate": SAMPLE_RATE, "channels": 2, "status": "ok", "reason": "", "stems_dir": None,
                          "notes": None, "shard": [shard_of[t] for t in ids]})
    pq.write_table(pa.Table.from_pandas(table.loc[:, list(MANIFEST_COLUMNS)], schema=MANIFEST_SCHEMA,
                                        preserve_index=False), out / "manifest.parquet")
    (out / "shards.json").write_text(json.dumps(shards))
    (out / "summary.txt").write_text("faked\n")
    return shards


def dry_run_jobs(workdir: Path, env: dict[str, str]) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                           "-n", "--quiet", "rules", "--configfile", str(TINY)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    table = re.search(r"Job stats:\n.*\n.*\n((?:.*\n)*?)total\s+\d+", done.stdout + done.stderr)
    assert table, done.stdout
    return {line.split()[0]: int(line.split()[1]) for line in table.group(1).splitlines() if line.strip()}


def test_jobs_per_rule_equal_the_dry_run(tmp_path, tool_env):
    shards = fake_manifest(tmp_path, tracks=21, shard_size=8, seconds=4.0)
    assert len(shards) == 3
    planned = dry_run_jobs(tmp_path, {**tool_env, "OMP_NUM_THREADS": "1"})
    expected = jobs_per_rule(load_config([TINY]), len(shards), done=("corpus", "manifest"))
    assert planned == expected
    assert planned["plan"] == 1 and planned["separate"] == 3  # the plan rule runs, once; per-shard rules per shard


def test_disk_is_tracks_times_the_constants():
    config = load_config([TINY])
    small, large = (make_plan(config, n, n * 30.0) for n in (10, 1000))
    for stage, value in small.disk_bytes.items():
        if stage != "checkpoints":  # per cell, not per track
            assert large.disk_bytes[stage] == pytest.approx(100 * value), stage
    fmt = config["separation"]["stem_format"]
    assert small.disk_bytes[f"stems ({fmt})"] == pytest.approx(10 * 30.0 * STEM_BYTES_PER_S[fmt])
    variants = config["degrade"]["variants_per_track"] + 1
    frames = 1 + int(min(config["pretrain"]["mel_max_s"], 30.0) * SAMPLE_RATE) // MEL_HOP
    assert small.disk_bytes["mel store"] == 10 * variants * frames * 4 * 2 * MEL_BANDS * MEL_BYTES
    assert STEM_BYTES_PER_S["float32"] == 4 * 2 * 4 * SAMPLE_RATE  # 42.3 MB per 30 s track
    assert small.shards == 2 and large.shards == 125  # shard_size 8 of the tiny config
    assert large.hours["cpu"] > small.hours["cpu"] > 0


def test_cli_reads_a_manifest(tmp_path, capsys):
    fake_manifest(tmp_path, tracks=21, shard_size=8, seconds=4.0)
    assert main(["--manifest", str(tmp_path / "results/manifest/manifest.parquet"), "--configfile", str(TINY)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan: 21 tracks, 0.0 h of audio, 3 shards")
    assert re.search(r"^  separate\s+3$", out, re.MULTILINE) and "stems (flac24)" in out


def test_the_unconditioned_cell_is_trained_once_per_seed_and_positives(tmp_path, tool_env):
    """`none` is one cell (not film-none, prepend-none, xattn-none): the DAG trains it once per seed."""
    fake_manifest(tmp_path, tracks=21, shard_size=8, seconds=4.0)
    (tmp_path / "seeds.yaml").write_text("ablation:\n  repeats: 3\n")
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
                           "-n", "--configfile", str(TINY), str(tmp_path / "seeds.yaml")],
                          capture_output=True, text=True, env={**tool_env, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = re.findall(r"^rule pretrain:\n(?:    .*\n)*?    wildcards: run=(\S+), seed=(\d+)", done.stdout, re.M)
    runs = sorted({run for run, _ in jobs})
    assert runs == ["film-all", "film-all-recipe", "none", "none-recipe"]
    assert sorted(jobs) == sorted(set(jobs)) and len(jobs) == 4 * 3  # each (cell, seed) once
    assert not any(run.endswith("-none") for run, _ in jobs)
