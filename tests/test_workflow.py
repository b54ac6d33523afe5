"""The workflow as a user drives it: lint, dry runs, config validation, and the tiny config end to end."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config.test.yaml"


def snakemake(args: list[str], workdir: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_lint_is_clean(tmp_path, tool_env):
    result = snakemake(["--lint"], tmp_path, tool_env, timeout=120)
    assert result.returncode == 0, output_of(result)
    assert "Lints for" not in output_of(result), output_of(result)


def test_dry_run_of_the_default_config_plans_the_corpus_and_manifest(tmp_path, tool_env):
    result = snakemake(["-n"], tmp_path, tool_env, timeout=120)
    assert result.returncode == 0, output_of(result)
    text = output_of(result)
    assert re.search(r"\bcorpus\b", text) and re.search(r"\bmanifest\b", text)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("dataset:\n  sourcee: synthetic\n", "sourcee"),
        ("shard_size: ten\n", "shard_size"),
        ("ablation:\n  conditioning: [film, gru]\n", "gru"),
        ("no_such_section: 1\n", "no_such_section"),
    ],
)
def test_bad_config_stops_the_run_naming_the_key(tmp_path, tool_env, override, named):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    result = snakemake(["-n", "--configfile", str(bad)], tmp_path, tool_env, timeout=120)
    assert result.returncode != 0
    assert named in output_of(result), output_of(result)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The whole tiny config, built once with 2 cores (every implemented rule)."""
    import os

    workdir = tmp_path_factory.mktemp("tiny")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = snakemake(["--cores", "2", "--configfile", str(TINY)], workdir, env, timeout=1500)
    if result.returncode != 0:
        logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "results" / "logs").rglob("*.log"))
                         if "rror" in p.read_text())
        pytest.fail(f"tiny workflow failed:\n{output_of(result)[-6000:]}\n{logs}")
    return workdir, env


@pytest.mark.slow
def test_tiny_run_builds_every_final_target(tiny_run):
    workdir, _ = tiny_run
    results = workdir / "results"
    for relative in ("manifest/manifest.parquet", "separation/eval.json", "features.parquet",
                     "ablation/summary.csv", "transfer/summary.csv", "mushra/package/configs/mixrep.yaml",
                     "tsne/film-all/metrics.json", "evaluate/none/units.parquet", "crossed/summary.csv", "ablation/comparisons.csv"):
        assert (results / relative).exists(), relative
    manifest = pd.read_parquet(results / "manifest/manifest.parquet")
    assert set(manifest["status"]) <= {"ok", "rejected"} and manifest["track_id"].is_unique
    features = pd.read_parquet(results / "features.parquet")
    values = features.select_dtypes("number").to_numpy()
    assert np.isfinite(values).all()
    assert len(features) == len(features[["track_id", "variant_id", "segment"]].drop_duplicates())
    # one pass per shard: every variant rendered once (the analyse log counts its renders)
    logs = sorted((results / "logs" / "analyse").glob("shard-*.log"))
    assert logs and not list((results / "logs").glob("degrade")) and not list((results / "logs").glob("mels"))
    renders = [re.search(r"(\d+) variants, (\d+) renders", p.read_text()).groups() for p in logs]
    assert all(v == r for v, r in renders) and sum(int(v) for v, _ in renders) == len(features)
    segments = pd.concat([pd.read_parquet(p) for p in sorted((results / "features" / "segments").glob("*.parquet"))])
    assert segments.groupby(["track_id", "variant_id"]).size().min() >= 2  # two distinct views per item


@pytest.mark.slow
def test_rerun_does_nothing_and_a_deleted_shard_rebuilds_alone(tiny_run):
    workdir, env = tiny_run
    again = snakemake(["-n", "--configfile", str(TINY)], workdir, env, timeout=300)
    assert again.returncode == 0 and "Nothing to be done" in output_of(again), output_of(again)
    shard_outputs = sorted((workdir / "results" / "features").glob("shard-*.parquet"))
    assert len(shard_outputs) >= 2, "the tiny config must have at least two shards"
    lost = shard_outputs[0]
    lost.unlink()
    # Snakemake does not rebuild a deleted intermediate for targets that are already up to date; asking for the
    # lost file (as a user would) plans that one shard job and nothing upstream or beside it.
    plan = snakemake(["-n", "--configfile", str(TINY), "--quiet", "rules", "--",
                      str(lost.relative_to(workdir))], workdir, env, timeout=300)
    assert plan.returncode == 0, output_of(plan)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", output_of(plan), flags=re.M))
    assert counts.get("analyse") == "1" and counts.get("total") == "1", output_of(plan)
    rebuilt = snakemake(["--cores", "1", "--configfile", str(TINY), "--", str(lost.relative_to(workdir))],
                        workdir, env, timeout=300)
    assert rebuilt.returncode == 0 and lost.exists(), output_of(rebuilt)


@pytest.mark.slow
def test_recipes_and_features_identical_with_one_or_two_cores(tmp_path, tool_env):
    """Same config, --cores 1 vs --cores 2: byte-identical recipes and feature tables (oracle stems: no training)."""
    oracle = tmp_path / "oracle.yaml"
    oracle.write_text("separation:\n  method: oracle\n")
    tables = {}
    for cores in (1, 2):
        workdir = tmp_path / f"cores{cores}"
        result = snakemake(["--cores", str(cores), "--configfile", str(TINY), str(oracle), "--",
                            "results/features.parquet"], workdir, tool_env, timeout=900)
        assert result.returncode == 0, output_of(result)[-4000:]
        results = workdir / "results"
        tables[cores] = {p.relative_to(results): p.read_bytes()
                         for p in sorted(results.glob("variants/*/recipes.parquet"))
                         + sorted(results.glob("features/*.parquet")) + sorted(results.glob("features/segments/*.parquet"))
                         + [results / "features.parquet"]}
    assert tables[1].keys() == tables[2].keys() and len(tables[1]) >= 5
    for name in tables[1]:
        assert tables[1][name] == tables[2][name], name
